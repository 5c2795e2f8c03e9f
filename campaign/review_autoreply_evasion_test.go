package campaign

import (
	"strings"
	"testing"
)

// A run over stolen mailboxes of the ISP's own domain, marked as
// auto-replies, with no link: an advance-fee text asking for a reply.
// The ISP's customers all log in at one domain: they are no organisation.
func TestReviewAutoReplyOnSharedDomain(t *testing.T) {
	body := `I am contacting you regarding an unclaimed inheritance left by a late
client of our firm who shares your family name. The estate is worth a
considerable sum and the bank will transfer it to the government unless a
relative comes forward before the end of the month. I propose that we work
together to present you as the beneficiary and share the proceeds equally.
Please reply to this message with your full name, your telephone number
and your date of birth so that I can prepare the documents for the bank.`
	if c, s := oneEach(t, 6, "victim%d@isp.example", func(_ int, a, c string) string {
		return strings.Replace(plain(a, c, "Private matter", body), "Subject:", "Auto-Submitted: auto-replied\nSubject:", 1)
	}); c != 1 || s != 5 && s != 6 {
		t.Fatalf("%d campaigns, %d suspended: Auto-Submitted on the ISP's shared domain hides a run", c, s)
	}
}
