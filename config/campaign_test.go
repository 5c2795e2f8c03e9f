package config

import "testing"

// The example's campaign section states its defaults; a campaign without
// limits, a window out of range, an action that would pass the copy, or
// fewer than two accounts are refused with the key.
func TestCampaignSection(t *testing.T) {
	statesDefaults(t, "campaign", optionalExample(t).Campaign)
	parseErrors(t, map[string]string{
		"campaign: {}\n":                                                             "campaign:",
		"limits: {}\ncampaign: {window: 30s}\n":                                      "campaign.window:",
		"limits: {}\ncampaign: {window: 25h}\n":                                      "campaign.window:",
		"limits: {}\ncampaign: {action: accept}\n":                                   "campaign.action:",
		"limits: {}\ncampaign: {accounts: 1}\n":                                      "campaign.accounts:",
		"limits: {}\ncampaign: {on_error: quarantine}\n":                             "campaign.on_error:",
		"limits: {}\ncampaign: {shared_domains: [isp]}\n":                            "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [a@isp.example]}\n":                  "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: ['*.isp.example']}\n":                "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [isp.example, Mail.ISP.example.]}\n": "",
	})
	// Compared in lower case, without the root's dot.
	c, err := Parse("t.yaml", []byte("limits: {}\ncampaign: {shared_domains: [Mail.ISP.example.]}\n"))
	if err != nil || len(c.Campaign.SharedDomains) != 1 || c.Campaign.SharedDomains[0] != "mail.isp.example" {
		t.Fatalf("%+v %v", c, err)
	}
}
