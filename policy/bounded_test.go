package policy

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// A check whose connection's deadline is ctx's fails with an I/O timeout
// at the instant ctx ends; whichever of the two bounded sees first, the
// outcome names the deadline's cause (the verdict line says which
// timeout passed). Before: when ctx.Done won the select, the result
// drained after it kept the bare "i/o timeout" (TestMessageTimeoutEndsAHungClamd
// failed about once in a CI run).
func TestBoundedNamesTheDeadlineWhicheverComesFirst(t *testing.T) {
	cause := errors.New("message_timeout (1ms) passed")
	for i := range 300 {
		ctx, cancel := context.WithTimeoutCause(context.Background(), time.Millisecond, cause)
		steps := []step{func() (Verdict, error) {
			<-ctx.Done()
			return Verdict{}, fmt.Errorf("reading reply: i/o timeout")
		}, func() (Verdict, error) {
			<-ctx.Done()
			return Verdict{}, fmt.Errorf("reading reply: i/o timeout")
		}}
		for j, o := range bounded(ctx, steps) {
			if !errors.Is(o.err, cause) || !errors.Is(o.err, context.DeadlineExceeded) {
				t.Fatalf("round %d, step %d: %v", i, j, o.err)
			}
		}
		cancel()
	}
}
