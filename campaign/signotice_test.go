package campaign

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// sigNoticeShapes are organisations' news with their own site's link,
// the shared opt-in notice under a "-- " signature (RFC 3676 4.3), as a
// mail client with a signature set puts a notice pasted into it.
var sigNoticeShapes = map[string]func(i int, site, own string) (string, string){
	"notice under the signature": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\nMore on https://www." + site + "/news\n\n-- \nThe board\n" + phone(i) + "\n\n" + optInNotice
	},
	"notice alone under the separator": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\nMore on https://www." + site + "/news\n\n--\n" + optInNotice
	},
}

// TestSignatureNotice: twelve organisations each linking their own site
// with the shared notice under a signature separator are no campaign.
// Before: the notice's sentences were the signature's prose, the
// sender's text, and each shape was a campaign.
func TestSignatureNotice(t *testing.T) {
	for name, shape := range sigNoticeShapes {
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				t.Errorf("%s (consumer logins %v): a campaign", name, consumer)
			}
		}
	}
}

// TestSignatureNoticeNoEvasion: the lure written as the notice under a
// signature, one link in every copy (in the text or in the signature),
// is found at the 5th account; with nothing to act on it is no text of
// the sender's, as a notice anywhere.
func TestSignatureNoticeNoEvasion(t *testing.T) {
	for name, body := range map[string]func(i int, own string) string{
		"link in the text": func(i int, own string) string {
			return own + "\n\nhttps://secure-login.phish.example/v\n\n-- \nMail Team\n\n" + noticeLure("at the link above")
		},
		"link in the signature": func(i int, own string) string {
			return own + fmt.Sprintf("\n\n-- \nMail Team %d\nhttps://secure-login.phish.example/v\n\n", i) + noticeLure("at the link above")
		},
	} {
		// The notice is cut (found by its salted runs, not as plain
		// text).
		if n := normalize(body(0, ownText(rand.New(rand.NewPCG(1, 2)), 30)), false, nil); n.full == nil {
			t.Errorf("%s: the notice under the signature not cut", name)
		}
		if n := lureAt(t, 2847, plainSubject, "text/plain", body); n != 5 {
			t.Errorf("%s: found at account %d, want 5", name, n)
		}
	}
}
