package config

import "testing"

// The example's campaign section states its defaults, and the consumer
// domain every operator must list; a campaign without limits or without
// shared_domains, a window out of range, an action that would pass the
// copy, fewer than two accounts or more than the store keeps are refused with the key. An explicit
// [] is the operator's word that every login domain is a company's.
func TestCampaignSection(t *testing.T) {
	statesDefaults(t, "campaign", optionalExample(t).Campaign, func(c *Campaign) {
		c.SharedDomains = []string{"isp.example"}
	})
	parseErrors(t, map[string]string{
		"campaign: {shared_domains: []}\n":                             "campaign:",
		"limits: {}\ncampaign: {}\n":                                   "campaign: needs shared_domains: list the login domains of your consumer accounts",
		"limits: {}\ncampaign: {accounts: 5}\n":                        "an explicit [] makes every login domain a company's",
		"limits: {}\ncampaign: {shared_domains: ~}\n":                  "campaign.shared_domains: want a list",
		"limits: {}\ncampaign: {shared_domains: []}\n":                 "",
		"limits: {}\ncampaign: {window: 30s, shared_domains: []}\n":    "campaign.window:",
		"limits: {}\ncampaign: {window: 25h, shared_domains: []}\n":    "campaign.window:",
		"limits: {}\ncampaign: {action: accept, shared_domains: []}\n": "campaign.action:",
		"limits: {}\ncampaign: {accounts: 1, shared_domains: []}\n":    "campaign.accounts:",
		// The store keeps the 256 most recent senders of a key (#28).
		"limits: {}\ncampaign: {accounts: 257, shared_domains: []}\n":                "campaign.accounts: must be at most 256",
		"limits: {}\ncampaign: {accounts: 256, shared_domains: []}\n":                "",
		"limits: {}\ncampaign: {on_error: quarantine, shared_domains: []}\n":         "campaign.on_error:",
		"limits: {}\ncampaign: {shared_domains: [isp]}\n":                            "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [a@isp.example]}\n":                  "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: ['*.isp.example']}\n":                "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [isp.example, Mail.ISP.example.]}\n": "",
		// The seed lives in the limits store (#28): the key is refused,
		// with any value.
		"limits: {}\ncampaign: {shared_domains: [], seed_file: /etc/outguard/campaign.key}\n": "campaign.seed_file: removed: the campaign seed now lives in the limits store",
		"limits: {}\ncampaign: {shared_domains: [], seed_file: }\n":                           "campaign.seed_file: removed:",
		"limits: {}\ncampaign: {shared_domains: [], seed_file: \"\"}\n":                       "campaign.seed_file: removed:",
		"limits: {}\ncampaign: {shared_domains: [], seed_file: {}}\n":                         "campaign.seed_file: removed:",
		"limits: {}\ncampaign: {shared_domains: [], seed_file: [a]}\n":                        "campaign.seed_file: removed:",
		"limits: {}\ncampaign: {shared_domains: [], seed_file: {path: /k}}\n":                 "campaign.seed_file: removed:",
	})
	// Compared in lower case, without the root's dot.
	c, err := Parse("t.yaml", []byte("limits: {}\ncampaign: {shared_domains: [Mail.ISP.example.]}\n"))
	if err != nil || len(c.Campaign.SharedDomains) != 1 || c.Campaign.SharedDomains[0] != "mail.isp.example" {
		t.Fatalf("%+v %v", c, err)
	}
}
