package campaign

import (
	"strings"
	"testing"
)

// TestReviewHTMLDisclaimer: the phishing text as an HTML body (one
// paragraph once rendered, no blank line) with one disclaimer sentence
// ("confidential … legally privileged") appended: the disclaimer rule
// dropped the whole paragraph, so the copies had no text key and were
// never found. Now found at the 5th.
func TestReviewHTMLDisclaimer(t *testing.T) {
	at := foundAt(t, 40, func(i int) (string, []byte) {
		rcpt, h, b := phishBody(i)
		h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: text/html", 1)
		page := "<html><body><div>" + strings.ReplaceAll(b, "\n", " ") +
			" This message is confidential and may be legally privileged.</div></body></html>"
		return rcpt, []byte(h + "\n\n" + page)
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}
