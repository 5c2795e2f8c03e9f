package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewPageSiteDotSegments (reviewer ro, issue 28 claim 2): the
// lure written as the notice, every copy pointing at ONE PayPal button,
// paypal.me page, Eventbrite event or Maps link, each copy writing that
// one link in a form every browser resolves to the same page (a dot
// segment "x7/../" in the path: RFC 3986 5.2.4, done by the WHATWG URL
// parser before the request; a letter of the name percent-encoded; a
// Maps place name in another case) must be found at the 5th account as
// the plain link is (TestPageSiteNoEvasion). targets.go's pageSite.page
// names the escaped path as written, segment by segment, so each copy
// is a target of its own: never found in 12 accounts.
func TestReviewPageSiteDotSegments(t *testing.T) {
	pct := func(i int, name string) string { // letter i%len of name percent-encoded
		k := i % len(name)
		return name[:k] + fmt.Sprintf("%%%02X", name[k]) + name[k+1:]
	}
	cases := map[string]func(i int) string{
		"paypal.me, a dot segment per copy":   func(i int) string { return fmt.Sprintf("https://paypal.me/r%d/../MailTeam/10EUR", i) },
		"paypal.me, a letter percent-encoded": func(i int) string { return "https://paypal.me/" + pct(i, "MailTeamDesk") },
		"PayPal button, a dot segment per copy": func(i int) string {
			return fmt.Sprintf("https://www.paypal.com/r%d/../donate/?hosted_button_id=MAILTEAM7", i)
		},
		"Eventbrite event, a dot segment": func(i int) string {
			return fmt.Sprintf("https://www.eventbrite.com/r%d/../e/mailbox-tickets-123456789", i)
		},
		"Maps short link, a dot segment": func(i int) string { return fmt.Sprintf("https://maps.app.goo.gl/r%d/../MaIlTeAm7", i) },
		"Maps place, its name's case per copy": func(i int) string {
			b := []byte("mail+desk+springfield")
			for k := range b {
				if i>>(k%12)&1 == 1 && b[k] >= 'a' && b[k] <= 'z' {
					b[k] -= 32
				}
			}
			return "https://www.google.com/maps/place/" + string(b)
		},
	}
	var missed []string
	for name, at := range cases {
		if urlTargets(at(1))[0] == urlTargets(at(2))[0] {
			t.Logf("%s: one target %q", name, urlTargets(at(1)))
		}
		n := lureAt(t, 2842, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure("at "+at(i)) })
		if n != 5 {
			missed = append(missed, fmt.Sprintf("%s: found at account %d (0: never in 12); targets of copies 1, 2: %q, %q", name, n, urlTargets(at(1)), urlTargets(at(2))))
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d of %d one-page runs not found at the 5th account:\n%s", len(missed), len(cases), strings.Join(missed, "\n"))
	}
}
