package milter_test

import (
	"testing"
	"time"

	"outguard/internal/harness"
)

// On a unix socket milterd answers only MAIL, RCPT and the end of the
// message (issue #32: the end of the headers went unanswered too, one
// round trip a message fewer), and writes nothing the MTA does not wait
// for: a stray answer would be read as the next stage's. The header
// fields the checks see are milterd's own copies: go-milter (our fork)
// hands them over in the wire guard's buffer, which the next packet
// overwrites.
func TestUnixSocketAnswersThreeStages(t *testing.T) {
	rec := &recorder{}
	mta := harness.DialMilterPostfix(t, startMilter(t, rec, &harness.LogBuffer{}))
	const nrEOH = 0x40000 // SMFIP_NR_EOH
	if mta.Protocol()&nrEOH == 0 {
		t.Fatalf("protocol %#x: the end of the headers is answered", mta.Protocol())
	}
	subjects := []string{"first", "second"}
	for i, subject := range subjects {
		msg := mta.Message("alice@customer.test", "alice@customer.test", "bob@remote.test",
			[][2]string{{"Subject", " " + subject}, {"X-Pad", " " + subject + subject}}, []byte("Hello.\r\n"))
		if len(msg) != 3 {
			t.Fatalf("%d stages waited for, want 3", len(msg))
		}
		if code := mta.Send(t, msg); code != 'a' {
			t.Fatalf("message %d answered %q, want accept", i+1, code)
		}
		if !mta.Quiet(200 * time.Millisecond) {
			t.Fatalf("message %d: the milter wrote after its final answer", i+1)
		}
	}
	seen := rec.seen()
	if len(seen) != len(subjects) {
		t.Fatalf("%d messages checked, want %d", len(seen), len(subjects))
	}
	for i, tx := range seen {
		if len(tx.Headers) != 2 || tx.Headers[0].Name != "Subject" || tx.Headers[0].Value != subjects[i] || tx.Headers[1].Value != subjects[i]+subjects[i] {
			t.Errorf("message %d: headers %+v, want Subject %q", i+1, tx.Headers, subjects[i])
		}
	}
}
