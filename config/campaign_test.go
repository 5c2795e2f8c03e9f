package config

import "testing"

// The example's campaign section states its defaults; a campaign without
// limits, a window out of range, an action that would pass the copy, or
// fewer than two accounts are refused with the key.
func TestCampaignSection(t *testing.T) {
	statesDefaults(t, "campaign", optionalExample(t).Campaign)
	parseErrors(t, map[string]string{
		"campaign: {}\n":                                 "campaign:",
		"limits: {}\ncampaign: {window: 30s}\n":          "campaign.window:",
		"limits: {}\ncampaign: {window: 25h}\n":          "campaign.window:",
		"limits: {}\ncampaign: {action: accept}\n":       "campaign.action:",
		"limits: {}\ncampaign: {accounts: 1}\n":          "campaign.accounts:",
		"limits: {}\ncampaign: {on_error: quarantine}\n": "campaign.on_error:",
	})
}
