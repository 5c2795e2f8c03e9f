package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR3OneDriveLinkForms (claim 1, the run's side): one file on a
// OneDrive for Business tenant shared from every account under Outlook's
// share text, the link spelt per copy in forms SharePoint opens alike:
// the guest ("g") or redirect ("r") form, another kind letter (":u:",
// ":b:", ":x:"), a trailing slash.
func TestReviewR3OneDriveLinkForms(t *testing.T) {
	link := func(i int) string {
		kind := []string{":b:/g", ":b:/r", ":u:/g", ":x:/r"}[i%4]
		return fmt.Sprintf("https://contoso-my.sharepoint.com/%s/personal/j_doe_contoso_com/EPhIsH7xMailDeskQ%s?e=%x", kind, []string{"", "/"}[i/4%2], i*31)
	}
	at := foundAt(t, 12, func(i int) (string, []byte) {
		rcpt := fmt.Sprintf("client%d@remote%d.example", i, i%7)
		ct, body := oneDriveShare(i, link(i))
		return rcpt, []byte(fmt.Sprintf("From: <c%d@isp.example>\nTo: <%s>\nSubject: Customer %d shared \"programme.pdf\" with you\nMIME-Version: 1.0\nContent-Type: %s\n\n%s\n", i, rcpt, i, ct, body))
	})
	var names []string
	for i := range 8 {
		names = append(names, fmt.Sprint(urlTargets(link(i))))
	}
	if at != 5 {
		t.Errorf("one SharePoint file, link forms per copy: found at account %d, want 5 (0: never in 12); named %v", at, names)
	}
}
