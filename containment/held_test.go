package containment_test

import (
	"context"
	"testing"
	"time"

	"outguard/containment"
	"outguard/limits"
)

// Issue #29: mail of the account the postmaster held by hand is in the
// hold queue too, but it is not the containment's: Messages tells the
// two apart, Held (accounts show's and the console's held count, and
// what unsuspend settles) counts only the containment's, HeldByHand the
// others. Before, Held counted every message in hold.
func TestHeldCountsOnlyContainment(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := holding(st, &now)
		handHeld(t, st, q, now)
		admit(t, st, q, "SPAM1", now.Add(-time.Minute))
		admit(t, st, q, "SPAM2", now.Add(-time.Minute))
		suspendAndSweep(t, st, c, now)
		msgs, err := c.Messages(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 3 || containment.Held(msgs) != 2 || containment.HeldByHand(msgs) != 1 {
			t.Errorf("%+v: held %d, by hand %d; want 2 and 1", msgs, containment.Held(msgs), containment.HeldByHand(msgs))
		}
		for _, m := range msgs {
			if m.Queue != containment.HoldQueue || m.Contained != (m.QueueID != "HAND1") {
				t.Errorf("%+v", m)
			}
		}
	})
}
