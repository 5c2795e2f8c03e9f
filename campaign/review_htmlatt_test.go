package campaign

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// TestReviewHTMLAttachment: the phishing text in an attached HTML page
// (the commonest credential-phishing shape: a short body, "Invoice.html"),
// varied per copy by a comment or token, under a 5-word body: never
// found in 40 accounts before: the attachment's text was not normalized
// (only body text was), its hash differs per copy, and the body is under
// MinWords. Now found at the 5th.
func TestReviewHTMLAttachment(t *testing.T) {
	at := foundAt(t, 40, func(i int) (string, []byte) {
		rcpt, h, b := phishBody(i)
		h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: multipart/mixed; boundary=\"B\"", 1)
		h = strings.Replace(h, "Content-Transfer-Encoding: 8bit\n", "", 1)
		page := "<html><body><p>" + strings.ReplaceAll(b, "\n\n", "</p><p>") + "</p><!-- " + fmt.Sprint(i*7919) + " --></body></html>"
		m := h + "\n\n--B\nContent-Type: text/plain\n\nPlease see the attached document.\n--B\nContent-Type: text/html; name=\"Invoice.html\"\nContent-Disposition: attachment; filename=\"Invoice.html\"\nContent-Transfer-Encoding: base64\n\n" + base64.StdEncoding.EncodeToString([]byte(page)) + "\n--B--\n"
		return rcpt, []byte(m)
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}
