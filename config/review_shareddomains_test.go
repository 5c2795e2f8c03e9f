package config

import "testing"

// TestReviewSharedDomainSpellings: shared_domains took any string with a
// dot: "isp.example,other.example" (one string, as a careless operator
// writes a list), an empty label or a control byte. No login has such a
// domain, so the consumer accounts of both domains silently counted as one
// company's and a campaign over them was never found. Each is now refused
// with the key; Unicode and punycode spellings of a real name still pass.
func TestReviewSharedDomainSpellings(t *testing.T) {
	parseErrors(t, map[string]string{
		"limits: {}\ncampaign: {shared_domains: [\"isp.example,other.example\"]}\n": "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [isp..example]}\n":                  "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [\"isp.example\\0\"]}\n":            "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [\"isp.exa\\tmple\"]}\n":            "campaign.shared_domains:",
		"limits: {}\ncampaign: {shared_domains: [BÜCHER.example]}\n":                "",
		"limits: {}\ncampaign: {shared_domains: [xn--bcher-kva.example]}\n":         "",
	})
}
