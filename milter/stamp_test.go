package milter

import (
	"fmt"
	"strings"
	"testing"
)

// The stamp tells recipients nothing internal by default; with full detail
// every note is printable ASCII and the field stays bounded.
func TestStampValue(t *testing.T) {
	if got := stampValue("1.0", []string{"clamd ClamAV 1.4.6", "rules 5798"}, true, false); got != "clean" {
		t.Errorf("verdict detail: %q", got)
	}
	if got := stampValue("1.0", []string{"clamd: not checked"}, false, false); got != "accepted, not fully checked" {
		t.Errorf("verdict detail, a check skipped: %q", got)
	}
	if got := stampValue("1.0", []string{"clamd ClamAV 1.4.6"}, true, true); got != "clean, milterd 1.0; clamd ClamAV 1.4.6" {
		t.Errorf("full detail: %q", got)
	}
	var notes []string
	for i := range 200 {
		notes = append(notes, fmt.Sprintf("limit: evil\r\nBcc: victim@example.net\x1b[2J%d.exe\xff", i))
	}
	got := stampValue("1.0", notes, true, true)
	if len(got) > 998 || !strings.HasSuffix(got, "; +190 more") {
		t.Errorf("200 notes: %d octets, ends %q", len(got), got[max(0, len(got)-30):])
	}
	for _, c := range []byte(got) {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("unprintable byte %#x in %q", c, got)
		}
	}
}
