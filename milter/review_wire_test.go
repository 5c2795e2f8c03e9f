package milter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
)

// Issue #32 review: go-milter (our fork) hands header fields and body
// chunks over in the wire guard's reused buffer. Here every packet of a
// message arrives cut at one byte offset (a lossy network), for every
// offset, with each message's header fields and body different from the
// last on the same connection: every message must be accepted, and what
// the checks saw (the header fields kept and the spooled message) must be
// that message's, intact, after all the later ones went through the same
// buffer.
func TestReviewPacketsSplitAtEveryByte(t *testing.T) {
	rec := &recorder{}
	mta := harness.DialMilterPostfix(t, startMilter(t, rec, &harness.LogBuffer{}))
	type sent struct{ subject, pad, body string }
	var want []sent
	longest := 0
	build := func(i int) harness.MilterStages {
		w := sent{
			subject: fmt.Sprintf("s%03d", i),
			pad:     strings.Repeat(string(rune('a'+i%26)), 1+i%37),
			body:    fmt.Sprintf("Body %d %s.\r\n", i, strings.Repeat(string(rune('A'+i%26)), i%53)),
		}
		want = append(want, w)
		return mta.Message("alice@customer.test", "alice@customer.test", "bob@remote.test",
			[][2]string{{"Subject", " " + w.subject}, {"X-Pad", " " + w.pad}}, []byte(w.body))
	}
	// Every offset of the longest stage (the end of the message), first
	// with a pause so that each piece is its own read, then back to back.
	first := build(0)
	for _, s := range first {
		longest = max(longest, len(s))
	}
	want = want[:0]
	for at := 0; at <= longest+8; at++ {
		if code := mta.SendSplit(t, build(len(want)), at, time.Millisecond); code != 'a' {
			t.Fatalf("cut at %d: answered %q, want accept", at, code)
		}
	}
	for range 300 {
		if code := mta.Send(t, build(len(want))); code != 'a' {
			t.Fatalf("message %d: answered %q, want accept", len(want), code)
		}
	}
	rec.mu.Lock()
	txs, raws := append(rec.txs[:0:0], rec.txs...), append(rec.raw[:0:0], rec.raw...)
	rec.mu.Unlock()
	if len(txs) != len(want) {
		t.Fatalf("%d messages checked, want %d", len(txs), len(want))
	}
	for i, w := range want {
		h := txs[i].Headers
		if len(h) != 2 || h[0].Name != "Subject" || h[0].Value != w.subject || h[1].Name != "X-Pad" || h[1].Value != w.pad {
			t.Errorf("message %d: header fields %+v, want Subject %q, X-Pad %q", i, h, w.subject, w.pad)
		}
		if wantRaw := "Subject: " + w.subject + "\r\nX-Pad: " + w.pad + "\r\n\r\n" + w.body; raws[i] != wantRaw {
			t.Errorf("message %d: spooled %q, want %q", i, raws[i], wantRaw)
		}
	}
}
