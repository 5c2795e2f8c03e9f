package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR5dFreeMailMerged (review r5d, claim 2): ad45e79 replaced
// the brands by a fixed list of country domains; providers' domains
// left out (dropped from 53cbfff's brands or never listed) are again
// "mail:DOMAIN": two people's addresses there one target, twelve
// organisations each pointing to its own secretary's address a
// campaign (as TestReviewR5bFreeMailMerged; control gmail.com).
func TestReviewR5dFreeMailMerged(t *testing.T) {
	domains := []string{"gmail.com", "rocketmail.com", "protonmail.ch", "yahoo.com.sg", "hotmail.co.za", "aim.com", "zohomail.eu", "outlook.co.th", "yahoo.co.nz"}
	held := freeMailMerges(t, domains, domains)
	if len(held) > 0 {
		t.Errorf("%d merges:\n%s", len(held), strings.Join(held, "\n"))
	}
}

// freeMailMerges lists, of domains, those where two people's addresses
// are one target, and of organised, those where twelve organisations
// each pointing to its own secretary's address there are a campaign.
func freeMailMerges(t *testing.T, domains, organised []string) []string {
	t.Helper()
	shared := sharedNames([]string{"isp.example"})
	var held []string
	for _, d := range domains {
		if a, b := mailTarget("anna@"+d, shared), mailTarget("bob@"+d, shared); a == b {
			held = append(held, fmt.Sprintf("anna@%s and bob@%s: one target %q", d, d, a))
		}
	}
	for _, d := range organised {
		shape := func(i int, site, own string) (string, string) {
			return "text/plain", own + fmt.Sprintf("\n\nQuestions or to sign up a friend, write to our secretary: club%d.secretary@%s\n\n", i, d) + optInNotice
		}
		if newsletterCampaign(t, shape, false) {
			held = append(held, fmt.Sprintf("%s: twelve organisations' secretaries a campaign", d))
		}
	}
	return held
}
