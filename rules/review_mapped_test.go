package rules

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// Review of the bound on mapped bytes: items each larger than the whole
// bound, from several messages at once, are scanned one at a time and in
// full (no deadlock waiting for more room than exists); messages whose
// deadline passes while they wait fail with it; afterwards the whole
// bound is free again (nothing leaked on the success or the deadline
// paths, which would wedge every later message).
func TestReviewMappedOversizeAndNoLeak(t *testing.T) {
	e := shipped(t)
	const bound = 1 << 20
	e.setMaxMapped(bound)
	m := attachmentMessage(2 * bound)
	errs := make(chan error, 6)
	for i := range cap(errs) {
		go func() {
			timeout := time.Minute
			if i%2 == 1 {
				timeout = time.Millisecond // some give up waiting
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			res, err := e.Scan(ctx, bytes.NewReader(m), int64(len(m)), "u", "a@customer.test")
			switch {
			case i%2 == 1 && err != nil && !errors.Is(err, context.DeadlineExceeded):
				errs <- err
				return
			case i%2 == 0 && err != nil:
				errs <- err
				return
			}
			for _, it := range res.Items {
				if err == nil && it.Filename == "f.bin" && it.Size != 2*bound {
					errs <- errors.New("attachment not scanned in full")
					return
				}
			}
			errs <- nil
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !e.mapped.TryAcquire(bound) {
		t.Fatal("the bound is not all free after every scan ended: a scan leaked its share")
	}
}
