package containment_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"outguard/containment"
	"outguard/internal/harness"
	"outguard/limits"
)

// memQueue is an MTA queue in memory: these tests are about which ids
// the sweep acts on and when (Postfix's own hold/release is tested on the
// real Postfix in e2e/containment_test.go).
type memQueue struct {
	mu sync.Mutex
	q  map[string]string
}

func (m *memQueue) List(context.Context) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.q), nil
}

func (m *memQueue) set(ids []string, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		m.q[id] = name
	}
}

func (m *memQueue) Hold(_ context.Context, ids []string) error {
	m.set(ids, containment.HoldQueue)
	return nil
}
func (m *memQueue) Release(_ context.Context, ids []string) error { m.set(ids, "active"); return nil }
func (m *memQueue) Delete(_ context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		delete(m.q, id)
	}
	return nil
}

func (m *memQueue) in(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.q[id]
}

// stores runs f on each kind of limits store (real redis-server and
// PostgreSQL from the harness).
func stores(t *testing.T, f func(t *testing.T, st limits.Store)) {
	ctx := context.Background()
	for name, o := range map[string]func() (limits.Store, error){
		"sqlite":   func() (limits.Store, error) { return limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db")) },
		"redis":    func() (limits.Store, error) { return limits.OpenRedis(ctx, harness.StartRedis(t).Addr) },
		"postgres": func() (limits.Store, error) { return limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN) },
	} {
		t.Run(name, func(t *testing.T) {
			st, err := o()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			f(t, st)
		})
	}
}

// reviewSetup is an empty queue and host mx1's containment of it, with
// action, at the time *now says.
func reviewSetup(st limits.Store, q *memQueue, now *time.Time, action string) *containment.Containment {
	return containment.New(containment.Options{Store: st, Host: "mx1", Queue: q, Action: action,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return *now }})
}

// holding is an empty queue and a containment holding its suspended
// accounts' mail in it.
func holding(st limits.Store, now *time.Time) (*memQueue, *containment.Containment) {
	q := &memQueue{q: map[string]string{}}
	return q, reviewSetup(st, q, now, containment.Hold)
}

// handHeld queues HAND1 of alice an hour before now, and the postmaster
// holds it by hand (postsuper -h HAND1) for reasons of its own.
func handHeld(t *testing.T, st limits.Store, q *memQueue, now time.Time) {
	t.Helper()
	admit(t, st, q, "HAND1", now.Add(-time.Hour))
	q.set([]string{"HAND1"}, containment.HoldQueue)
}

// suspendAndSweep suspends alice at now and has c sweep, as milterd's
// sweep does after a suspension.
func suspendAndSweep(t *testing.T, st limits.Store, c *containment.Containment, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if ok, err := st.Suspend(ctx, limits.Suspension{Key: "alice", Since: now, By: "milterd", Reason: "test"}, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := c.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
}

func admit(t *testing.T, st limits.Store, q *memQueue, id string, now time.Time) {
	t.Helper()
	record(t, st, id, now)
	q.set([]string{id}, "deferred")
}

// record is the limits engine's commit of message id (its record), the
// MTA not having queued it yet.
func record(t *testing.T, st limits.Store, id string, now time.Time) {
	t.Helper()
	if _, ok, err := st.Admit(context.Background(), "alice", limits.Sent{Host: "mx1", QueueID: id, Rcpts: []string{"x@example.org"}, Time: now}, limits.Limits{}, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
}

// TestReviewLateMessageHeld: a message admitted at its end of data just
// before the suspension (its commit came first: a later one reads the
// suspension and refuses it) and queued by the MTA just after it; the
// sweep that saw the suspension had nothing to hold yet. It must still be
// held at a later sweep.
func TestReviewLateMessageHeld(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := holding(st, &now)
		admit(t, st, q, "EARLY1", now.Add(-time.Minute))
		record(t, st, "LATE1", now)
		suspendAndSweep(t, st, c, now)
		if q.in("EARLY1") != containment.HoldQueue {
			t.Fatal("the message queued before the suspension was not held")
		}
		now = now.Add(time.Second)
		q.set([]string{"LATE1"}, "deferred") // the same second's message reaching the queue after the sweep
		if err := c.Sweep(ctx); err != nil || q.in("LATE1") != "deferred" {
			t.Fatal("looked again sooner than containment.LateEvery", err)
		}
		now = now.Add(containment.LateEvery)
		if err := c.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if got := q.in("LATE1"); got != containment.HoldQueue {
			t.Fatalf("a message queued just after the suspension escaped the hold: in %q", got)
		}
	})
}

// TestReviewSettleLeavesHandHeld: mail the postmaster held by hand
// before the suspension (for its own reasons) is not containment's to
// release when the account is unsuspended with --release-queued.
func TestReviewSettleLeavesHandHeld(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := spamHeld(t, st, &now, true)
		now = now.Add(time.Minute)
		if _, err := st.Unsuspend(ctx, "alice", now); err != nil {
			t.Fatal(err)
		}
		ids, err := c.Settle(ctx, "alice", true, "operator")
		if err != nil {
			t.Fatal(err)
		}
		if q.in("SPAM1") == containment.HoldQueue {
			t.Error("the held message was not released")
		}
		if got := q.in("HAND1"); got != containment.HoldQueue {
			t.Errorf("the message the postmaster held by hand was released too (released %v)", ids)
		}
	})
}

// TestReviewLateForBound: the sweep stops looking at a suspension's
// account containment.LateFor after it began (each look lists the queue).
func TestReviewLateForBound(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := holding(st, &now)
		record(t, st, "LATE1", now) // committed before the suspension, queued late
		record(t, st, "LATE2", now)
		suspendAndSweep(t, st, c, now)
		now = now.Add(containment.LateFor - time.Second)
		q.set([]string{"LATE1"}, "deferred")
		if err := c.Sweep(ctx); err != nil || q.in("LATE1") != containment.HoldQueue {
			t.Fatal("not held within containment.LateFor", err)
		}
		now = now.Add(time.Second)
		q.set([]string{"LATE2"}, "deferred")
		if err := c.Sweep(ctx); err != nil || q.in("LATE2") != "deferred" {
			t.Fatal("looked again after containment.LateFor", err)
		}
	})
}

// TestReviewDeleteLeavesHandHeld: with on_suspend_queued: delete, mail of
// the account the postmaster held by hand (to look at it) is not
// containment's to delete; what containment held before (the action
// changed from hold to delete) is.
func TestReviewDeleteLeavesHandHeld(t *testing.T) {
	stores(t, func(t *testing.T, st limits.Store) {
		ctx := context.Background()
		now := time.Now()
		q, c := holding(st, &now)
		handHeld(t, st, q, now)
		admit(t, st, q, "OURS1", now.Add(-time.Minute))
		if _, err := c.Contain(ctx, "alice", "operator"); err != nil || q.in("OURS1") != containment.HoldQueue {
			t.Fatal("not held", err)
		}
		admit(t, st, q, "SPAM1", now.Add(-time.Minute))
		del := reviewSetup(st, q, &now, containment.Delete)
		ids, err := del.Contain(ctx, "alice", "operator")
		if err != nil {
			t.Fatal(err)
		}
		if q.in("SPAM1") != "" || q.in("OURS1") != "" {
			t.Errorf("not deleted: %v", ids)
		}
		if q.in("HAND1") != containment.HoldQueue {
			t.Errorf("the message the postmaster held by hand was deleted (deleted %v)", ids)
		}
	})
}
