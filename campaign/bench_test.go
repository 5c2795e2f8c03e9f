package campaign

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/limits"
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
				c := NewCollector(Names("ben"), Seed{})
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

// BenchmarkStoreCopy: the store's work for one copy (SQLite, the
// default store) with the MinHash fingerprint's 20 text keys, the
// sampled runs' mean on internal/hamgen's corpus (46), the former most
// (128) and the most (MaxKeys): each text key is a row and, on
// PostgreSQL, a lock, so a fingerprint's key count is store time.
func BenchmarkStoreCopy(b *testing.B) {
	for _, n := range []int{20, 46, 128, MaxKeys} {
		b.Run(fmt.Sprint("keys", n), func(b *testing.B) {
			st, err := limits.OpenSQLite(filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			i := 0
			for b.Loop() {
				// Ham: every copy's keys its own.
				keys := make([]string, n)
				for k := range keys {
					keys[k] = fmt.Sprintf("t2%x", mix(uint64(i*MaxKeys+k)))
				}
				i++
				now = now.Add(100 * time.Millisecond)
				if _, err := st.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("a", i), Time: now, Bands: Quorum}, 15*time.Minute, 5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
