package campaign

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"outguard/mimewalk"
)

// message10K is a clean outbound message of 10 KiB: a letter in text
// and its HTML alternative, as bench/compare's 10 KiB workload.
func message10K() []byte {
	para := "We will pick up the school forms later today because the weather looks bad. Grandma reviewed the birthday cake before the holidays so we can plan the rest. "
	var text strings.Builder
	for text.Len() < 4800 {
		text.WriteString(para)
		text.WriteString("\r\n")
	}
	html := "<html><body><p>" + strings.ReplaceAll(text.String(), "\r\n", "</p><p>") + "</p></body></html>"
	return []byte("From: <ann@isp.example>\r\nTo: Ben <ben@remote.example>\r\nSubject: plans\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		text.String() + "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b--\r\n")
}

// BenchmarkFingerprint10K: the MIME walk YARA's rules get anyway, and the
// same walk with the fingerprint on it (Tap): the difference is the
// fingerprint's cost per message, the ratio its share (issue #32 watches
// milterd's CPU per clean 10 KiB message).
func BenchmarkFingerprint10K(b *testing.B) {
	raw := message10K()
	for _, tap := range []bool{false, true} {
		name := "walk"
		if tap {
			name = "walk+fingerprint"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				c := NewCollector(Names("ben"))
				if _, err := mimewalk.Walk(context.Background(), bytes.NewReader(raw), int64(len(raw)), mimewalk.Limits{}, func(it *mimewalk.Item) error {
					if tap {
						c.Item(it)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				c.Done()
				if tap && len(c.Fingerprint().Text) == 0 {
					b.Fatal("no fingerprint")
				}
			}
		})
	}
}
