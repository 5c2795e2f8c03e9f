package campaign

import (
	"fmt"
	"testing"
)

// TestReviewPhishAsFooter: a short phishing text written as a list's
// footer (an unsubscribe term, "receiving this", "preferences"), with a
// per-copy greeting and tracking token: the footer cut took the whole
// text and no copy had a text key.
func TestReviewPhishAsFooter(t *testing.T) {
	at := foundAt(t, 40, func(i int) (string, []byte) {
		rcpt := fmt.Sprintf("r%d@example.net", i)
		b := fmt.Sprintf("Dear customer %d,\n\nYour mailbox storage is full and your account will be closed within 24 hours. "+
			"To keep receiving this mail, verify your account now at https://secure-login.example.com/verify?t=%x and confirm your password. "+
			"To unsubscribe from closure notices or change preferences, log in with your password.\n", i, i*7919)
		h := "From: Mail Team <team@isp.example>\nTo: " + rcpt + "\nSubject: Account notice\nContent-Type: text/plain; charset=utf-8"
		return rcpt, []byte(h + "\n\n" + b)
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}
