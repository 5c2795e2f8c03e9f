package campaign

import (
	"fmt"
	"testing"

	"outguard/internal/hamgen"
)

// TestOrganisation: who an account counts as. The ISP's consumer domain
// (campaign.shared_domains) and its subdomains: each account alone; a
// login without a domain, or under a suffix that gives names away: alone;
// any other login domain: its organisation, by registrable domain.
func TestOrganisation(t *testing.T) {
	shared := []string{"isp.example", "kunden.example.net"}
	for account, want := range map[string]string{
		"victim1@isp.example":         "",
		"Victim1@ISP.example.":        "",
		"a@mail.isp.example":          "",
		"a@kunden.example.net":        "",
		"a@x.kunden.example.net":      "",
		"a@example.net":               "@example.net", // the parent of a shared domain is not shared
		"agent3@shop.example":         "@shop.example",
		"agent3@support.shop.example": "@shop.example",
		"a@notisp.example":            "@notisp.example",
		"a@b@isp.example":             "",
		"c0":                          "",
		"ip:192.0.2.1":                "",
		"it@desk1.github.io":          "",
	} {
		if got := organisation(account, sharedNames(shared)); got != want {
			t.Errorf("%s: %q, want %q", account, got, want)
		}
	}
	if got := organisation("victim1@isp.example", nil); got != "@isp.example" {
		t.Errorf("without shared domains: %q", got)
	}
}

// TestOrganisationCampaigns: the other side of counting a hosted
// organisation once. The run over stolen consumer accounts (the shared
// domain, a subdomain of it) is found at the fifth, Auto-Submitted or
// not; a hosted company's accounts count once toward a run (stolen ones
// of it alone make no campaign: its accounts are left to their own
// limits); with consumers they make one, and every sender is suspended;
// and without shared_domains the ISP's own domain is one organisation
// (the operator must list it: docs/suspension.md).
func TestOrganisationCampaigns(t *testing.T) {
	acct := func(format string) func(i int) string {
		return func(i int) string { return fmt.Sprintf(format, i) }
	}
	for _, c := range []struct {
		name         string
		account      func(i int) string
		n            int
		extra        string
		shared       []string
		first, camps int
		suspended    int
	}{
		{"consumers", acct("victim%d@isp.example"), 8, "", nil, 4, 1, 8},
		{"consumers, auto-submitted", acct("victim%d@isp.example"), 8, "Auto-Submitted: auto-replied\n", nil, 4, 1, 8},
		{"consumers of a subdomain", acct("victim%d@mail.isp.example"), 8, "", nil, 4, 1, 8},
		{"one hosted company's stolen accounts", acct("staff%d@company.example"), 12, "", nil, -1, 0, 0},
		{"a company's two with consumers", func(i int) string {
			if i < 2 {
				return fmt.Sprintf("staff%d@company.example", i)
			}
			return fmt.Sprintf("victim%d@isp.example", i)
		}, 8, "", nil, 5, 1, 8},
		{"five hosted companies", acct("staff@company%d.example"), 8, "", nil, 4, 1, 8},
		{"no shared domains configured", acct("victim%d@isp.example"), 12, "", []string{}, -1, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			if c.shared != nil {
				r.eng.shared = sharedNames(c.shared)
			}
			var msgs []hamgen.Message
			for i := range c.n {
				msgs = append(msgs, phishFrom(i, c.account(i), c.extra))
			}
			if first, camps, s := r.sendAll(t, msgs); first != c.first || camps != c.camps || s != c.suspended {
				t.Fatalf("campaign at message %d (want %d), %d campaigns (want %d), %d suspended (want %d)", first, c.first, camps, c.camps, s, c.suspended)
			}
		})
	}
}
