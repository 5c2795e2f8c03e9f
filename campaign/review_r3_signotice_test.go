package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR3SignatureNoticeHTML (claim 2, innocent side): the shared
// notice pasted into a signature as HTML mail clients write it: Gmail's
// gmail_signature div ("-- <br>"), Thunderbird's moz-signature (its
// "-- " in a <pre> or a div), Outlook's <div id="Signature"> (no
// separator: control for what is not claimed), each organisation
// linking its own site. The text/plain shapes are TestSignatureNotice.
func TestReviewR3SignatureNoticeHTML(t *testing.T) {
	for name, shape := range map[string]func(i int, site, own string) (string, string){
		"Gmail gmail_signature": func(i int, site, own string) (string, string) {
			return "text/html", fmt.Sprintf(`<div dir="ltr"><div>%s</div><div>More on <a href="https://www.%s/news">our site</a></div><br clear="all"><br><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature"><div dir="ltr"><div>The board</div><div>%s</div><div>%s</div></div></div></div>`, own, site, phone(i), optInNotice)
		},
		"Thunderbird moz-signature pre": func(i int, site, own string) (string, string) {
			return "text/html", fmt.Sprintf(`<html><body><p>%s</p><p>More on <a href="https://www.%s/news">our site</a></p><pre class="moz-signature" cols="72">-- 
The board
%s

%s</pre></body></html>`, own, site, phone(i), optInNotice)
		},
		"Thunderbird moz-signature div": func(i int, site, own string) (string, string) {
			return "text/html", fmt.Sprintf(`<html><body><p>%s</p><p>More on <a href="https://www.%s/news">our site</a></p><div class="moz-signature">-- <br><p>The board<br>%s</p><p>%s</p></div></body></html>`, own, site, phone(i), optInNotice)
		},
	} {
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				t.Errorf("%s (consumer logins %v): a campaign", name, consumer)
			}
		}
	}
}
