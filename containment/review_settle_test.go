package containment_test

import (
	"context"
	"testing"
	"time"

	"outguard/containment"
	"outguard/limits"
)

// Review of #29: containment held SPAM1, the operator unsuspended alice
// with --release-queued, and the postmaster then held SPAM1 by hand to
// look at it. SPAM1 is now the postmaster's: "accounts show" counts it
// held by hand, and alice's next suspension, with on_suspend_queued:
// delete, leaves it. Before, any "queue held" in the trail made it
// containment's for good, and the second suspension deleted it.
func TestReviewReleasedThenHeldByHand(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := spamHeld(t, st, &now, false)
		now = now.Add(time.Minute)
		if _, err := st.Unsuspend(ctx, "alice", now); err != nil {
			t.Fatal(err)
		}
		if ids, err := c.Settle(ctx, "alice", true, "operator"); err != nil || len(ids) != 1 {
			t.Fatal(ids, err)
		}
		q.set([]string{"SPAM1"}, containment.HoldQueue) // postsuper -h SPAM1, by hand
		msgs, err := c.Messages(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if containment.Held(msgs) != 0 || containment.HeldByHand(msgs) != 1 {
			t.Errorf("show: %+v; want SPAM1 held by hand", msgs)
		}
		now = now.Add(time.Minute)
		del := reviewSetup(st, q, &now, containment.Delete)
		suspendAndSweep(t, st, del, now)
		if q.in("SPAM1") != containment.HoldQueue {
			t.Errorf("the message the postmaster held by hand after its release was deleted")
		}
	})
}

// Review of #29: an escalated suspension lasts until an operator lifts
// it, and the message records that tie a queue id to its account are
// kept a week. Mail containment held more than a week ago is still
// listed by "accounts show" and released by "unsuspend --release-queued"
// (its audit trail says containment holds it). Before, it vanished from
// both and stayed on hold for good.
func TestReviewHeldLongerThanRecords(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := spamHeld(t, st, &now, false)
		now = now.Add(8 * 24 * time.Hour)
		if err := st.Purge(ctx, now); err != nil {
			t.Fatal(err)
		}
		if owner, _, err := st.Owner(ctx, "mx1", "SPAM1"); err != nil || owner != "" {
			t.Skipf("this store keeps the record (%q, %v): its records expire on the server's clock", owner, err)
		}
		msgs, err := c.Messages(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if containment.Held(msgs) != 1 {
			t.Errorf("show after a week: %+v; want SPAM1 held by containment", msgs)
		}
		if _, err := st.Unsuspend(ctx, "alice", now); err != nil {
			t.Fatal(err)
		}
		if ids, err := c.Settle(ctx, "alice", true, "operator"); err != nil || len(ids) != 1 || q.in("SPAM1") == containment.HoldQueue {
			t.Errorf("released %v (%v); SPAM1 in %q", ids, err, q.in("SPAM1"))
		}
	})
}

// spamHeld queues SPAM1 of alice on mx1 (after HAND1, held by hand, if
// byHand) and suspends alice at *now; the sweep holds it.
func spamHeld(t *testing.T, st limits.Store, now *time.Time, byHand bool) (*memQueue, *containment.Containment) {
	t.Helper()
	q, c := holding(st, now)
	if byHand {
		handHeld(t, st, q, *now)
	}
	admit(t, st, q, "SPAM1", now.Add(-time.Minute))
	suspendAndSweep(t, st, c, *now)
	if q.in("SPAM1") != containment.HoldQueue {
		t.Fatal("not held")
	}
	return q, c
}
