package campaign

import (
	"fmt"
	"strings"
	"testing"

	"outguard/internal/hamgen"
)

// TestReviewR3ToolPhraseInLure (claim 1): the phishing text (hamgen's,
// found at the 5th with its per-recipient greeting and token), each
// copy's link a file of its own on one SharePoint tenant, with one of
// the OneDrive share text's phrases added ("shared a file with you",
// "This link will work for anyone."). Control: the same without the
// phrase.
func TestReviewR3ToolPhraseInLure(t *testing.T) {
	for name, add := range map[string]string{
		"no phrase (control)":             "",
		"shared a file with you":          "IT Service Desk shared a file with you\n\n",
		"this link will work for anyone.": "This link will work for anyone.\n\n",
	} {
		at := foundAt(t, 12, func(i int) (string, []byte) {
			rcpt, raw := hamgen.Phish(i, false)
			s := string(raw)
			old := fmt.Sprintf("https://secure-login.phish.example/verify?u=%x&r=%d", uint64(i)*0x9e3779b97f4a7c15, 1000+i)
			s = strings.Replace(s, old, fmt.Sprintf("https://contoso-my.sharepoint.com/:b:/g/personal/it_contoso_com/E%xQ", uint64(i+1)*0x9e3779b97f4a7c15), 1)
			hdr, body, _ := strings.Cut(s, "\n\n")
			return rcpt, []byte(hdr + "\n\n" + add + body)
		})
		t.Logf("%s: found at %d", name, at)
		if at != 5 {
			t.Errorf("phishing text with a SharePoint file per copy, %s: found at account %d, want 5 (0: never in 12)", name, at)
		}
	}
}
