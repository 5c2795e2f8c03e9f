package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR5cBrandDomainSplitsRun (review r5c, claim 3): since 53cbfff
// any registrable domain whose first label is a free-mail brand
// (freeMailBrands: "mail", "live", "outlook", "proton", "zoho", …) is
// free mail, its addresses a target per mailbox. An attacker registers
// one such domain (outlook.support, mail.help, live.help, proton.tech:
// one domain, as the control's) with a catch-all and points each copy of
// the notice-shaped lure to a mailbox of its own there: a target per
// copy, the run never found in 12. The same run at any other one domain
// (the control) is found at the 5th (its target "mail:DOMAIN").
func TestReviewR5cBrandDomainSplitsRun(t *testing.T) {
	shared := sharedNames([]string{"isp.example"})
	for _, d := range []string{"mailbox-desk.com", "outlook.support", "mail.help", "live.help", "proton.tech", "zoho.center"} {
		at := lureAt(t, 2851, plainSubject, "text/plain", func(i int, own string) string {
			return own + "\n\n" + noticeLure(fmt.Sprintf("by writing to desk%d@%s", i, d))
		})
		t.Logf("%s: targets %q, %q; found at account %d", d, mailTarget("desk1@"+d, shared), mailTarget("desk2@"+d, shared), at)
		if at != 5 {
			t.Errorf("one attacker's domain %s, a mailbox per copy: found at account %d (0: never in 12), want 5", d, at)
		}
	}
}
