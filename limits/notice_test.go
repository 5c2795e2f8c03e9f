package limits

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Issue #29: a suspension's notice whose evidence is long multibyte text
// (a receiver's reply and a recipient of 200 four-byte characters each,
// a subject of 200 three-byte ones) keeps every line within RFC 5322's
// 998 bytes, cut on character boundaries: Python's email package (a
// parser nobody here wrote) reads it without a defect, and its text is
// valid UTF-8 holding the evidence whole. Before, an evidence line was
// 2,500 bytes.
func TestNoticeLinesWithinRFC5322(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 (Debian's python3, in .ci/packages): ", err)
	}
	long4 := strings.Repeat("😀", 300) // cut to 200 by oneLine
	s := Suspension{Key: strings.Repeat("ü", 300) + "@customer.test", Since: time.Now(), Reason: "10 undeliverable recipients", By: "milterd",
		Evidence: []Undeliverable{{Time: time.Now(), Rcpt: long4 + "@remote.test", Status: "5.1.1", Text: "550 " + long4, QueueID: "4ABC", Source: "log"}}}
	body, _ := json.Marshal(Alert{ID: "a1", Event: "suspended", Account: s.Key, Suspension: &s})
	msg, err := notice(OutboxItem{AlertID: "a1", Body: body, Created: time.Now()}, "desk@isp.test", "abuse@isp.test", "abuse@isp.test")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(msg, "\r\n") {
		if len(l) > 998 {
			t.Errorf("line %d: %d bytes", i, len(l))
		}
	}
	py := `
import sys, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
defects = list(m.defects) + [d for p in m.walk() for d in p.defects]
print("DEFECTS", len(defects), defects)
print("SUBJECT", m["subject"])
print(m.get_content())
`
	cmd := exec.Command("python3", "-c", py)
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "DEFECTS 0 ") {
		t.Errorf("Python's email found defects:\n%s", got)
	}
	if !strings.Contains(got, "SUBJECT outguard: account "+strings.Repeat("ü", 200)+"…") {
		t.Errorf("subject not read back whole:\n%.600s", got)
	}
	// The evidence line, unfolded, holds the reply's 200 characters
	// (oneLine's cut).
	text := strings.ReplaceAll(strings.ReplaceAll(got, "\r\n", "\n"), "\n  ", "")
	if !strings.Contains(text, "550 "+strings.Repeat("😀", 196)+"…") || strings.ContainsRune(text, '\uFFFD') {
		t.Errorf("evidence not whole or cut inside a character:\n%s", got)
	}
}
