package rules

import (
	"bytes"
	"context"
	"testing"
	"time"

	"outguard/internal/mailcorpus"
	"outguard/mimewalk"
)

// TestReviewYaraPastDeadline: libyara stops a scan only at its timeout
// (rules.timeout, 10s), which the scan set once for the message, not cut
// to what was left of message_timeout. A 2 MiB text attachment of
// "<input " repeated runs the shipped phishing rule's
// /<input[^>]{0,4000}.../ from every one of its 300,000 atoms: the
// scan held a core for the whole 10s past a 100ms deadline (the pipeline
// had long answered tempfail). Now each item's timeout is what is left
// of the deadline, rounded up to libyara's whole seconds: 1s.
func TestReviewYaraPastDeadline(t *testing.T) {
	e := shipped(t)
	e.Limits = mimewalk.Limits{SpoolDir: t.TempDir()}
	page := bytes.Repeat([]byte("<input "), (2<<20)/7)
	msg := mailcorpus.Message("notes", mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "Notes attached.\r\n"),
		mailcorpus.Attach("text/plain", "notes.txt", page)))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Scan(ctx, bytes.NewReader(msg), int64(len(msg)), "alice", "alice@customer.test")
	took := time.Since(start)
	t.Logf("scan took %v: %v", took, err)
	if err == nil {
		t.Fatalf("a scan past its deadline returned no error")
	}
	// 1s (libyara's granularity) against the 10s timeout: a ratio, not a
	// speed.
	if took > e.Timeout/2 {
		t.Errorf("the scan held a core %v past a 100ms deadline (rules timeout %v)", took, e.Timeout)
	}
}

// TestReviewYaraSubsecondTimeout: libyara takes whole seconds and reads 0
// as no timeout, so a rules.timeout of 500ms (config takes any positive
// value) was no timeout at all. It is rounded up, as is what is left of
// the deadline.
func TestReviewYaraSubsecondTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		ctx  context.Context
		d    time.Duration
		want time.Duration
	}{
		{context.Background(), 500 * time.Millisecond, time.Second},
		{context.Background(), 10 * time.Second, 10 * time.Second},
		{ctx, 10 * time.Second, 4 * time.Second},
		{ctx, 2 * time.Second, 2 * time.Second},
		{past, 10 * time.Second, time.Second},
	} {
		if got := itemTimeout(c.ctx, c.d); got != c.want {
			t.Errorf("itemTimeout(%v left, %v) = %v, want %v", deadlineLeft(c.ctx), c.d, got, c.want)
		}
	}
}

func deadlineLeft(ctx context.Context) any {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl).Round(time.Second)
	}
	return "none"
}
