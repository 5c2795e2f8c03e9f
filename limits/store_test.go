package limits_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// stores returns a fresh store of each kind.
func stores(t *testing.T) map[string]limits.Store {
	sq, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	rd, err := limits.OpenRedis(context.Background(), harness.StartRedis(t).Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return map[string]limits.Store{"sqlite": sq, "redis": rd}
}

func TestStores(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) { testStore(t, st) })
	}
}

func testStore(t *testing.T, st limits.Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	lim := limits.Limits{MessagesPerHour: 3, RecipientsPerDay: 10}

	// Rolling windows: a message 2 h ago counts for the day only.
	if _, ok, err := st.Admit(ctx, "alice", limits.Sent{ID: "old", Rcpts: []string{"a", "b"}, Time: now.Add(-2 * time.Hour)}, lim, now.Add(-2*time.Hour)); !ok || err != nil {
		t.Fatalf("admit old: %v %v", ok, err)
	}
	for i := range 3 {
		_, ok, err := st.Admit(ctx, "alice", limits.Sent{ID: fmt.Sprint("m", i), QueueID: fmt.Sprint("Q", i), Rcpts: []string{"x"}, Time: now.Add(time.Duration(i) * time.Second)}, lim, now)
		if !ok || err != nil {
			t.Fatalf("admit %d: %v %v", i, ok, err)
		}
	}
	u, ok, err := st.Admit(ctx, "alice", limits.Sent{ID: "m4", Rcpts: []string{"x"}, Time: now}, lim, now)
	if ok || err != nil {
		t.Fatalf("4th message in an hour admitted: %v", err)
	}
	want := limits.Usage{MessagesHour: 3, MessagesDay: 4, RecipientsHour: 3, RecipientsDay: 5, OldestHour: now, OldestDay: now.Add(-2 * time.Hour)}
	if u != want {
		t.Errorf("usage\n got %+v\nwant %+v", u, want)
	}
	if e := lim.Check(u, 1, 1); e == nil || e.What != "messages per hour" || !e.FreeAt.Equal(now.Add(time.Hour)) {
		t.Errorf("exceeded %+v", e)
	}
	if u2, s, err := st.Usage(ctx, "alice", now); u2 != u || s != nil || err != nil {
		t.Errorf("Usage %+v %v %v", u2, s, err)
	}
	// A message admitted once is not counted twice.
	st.Admit(ctx, "alice", limits.Sent{ID: "m0", Rcpts: []string{"x"}, Time: now}, limits.Limits{}, now)
	if u3, _, _ := st.Usage(ctx, "alice", now); u3.MessagesHour != 3 {
		t.Errorf("re-admitted id counted again: %+v", u3)
	}
	if key, rcpts, err := st.Owner(ctx, "Q1"); key != "alice" || len(rcpts) != 1 || err != nil {
		t.Errorf("owner %q %v %v", key, rcpts, err)
	}
	if key, _, err := st.Owner(ctx, "nope"); key != "" || err != nil {
		t.Errorf("unknown qid owner %q %v", key, err)
	}

	// Undeliverable events are idempotent by id; only the last hour counts.
	evs := []limits.Undeliverable{
		{ID: "e1", Time: now.Add(-2 * time.Hour), Rcpt: "old@x", Status: "5.1.1", Source: "log"},
		{ID: "e2", Time: now, Rcpt: "a@x", Status: "5.1.1", Source: "rcpt"},
		{ID: "e3", Time: now, Rcpt: "b@x", Status: "5.1.1", Source: "log", QueueID: "Q1"},
	}
	if n, err := st.AddUndeliverable(ctx, "alice", evs, now); n != 2 || err != nil {
		t.Fatalf("undeliverable count %d %v", n, err)
	}
	if n, _ := st.AddUndeliverable(ctx, "alice", evs[1:], now); n != 2 {
		t.Errorf("replayed events counted again: %d", n)
	}
	got, err := st.Undeliverables(ctx, "alice", now.Add(-3*time.Hour))
	if err != nil || len(got) != 3 || got[2].QueueID != "Q1" && got[1].QueueID != "Q1" {
		t.Errorf("undeliverables %+v %v", got, err)
	}

	// Suspension: once, persisted with evidence, lifted once.
	s := limits.Suspension{Key: "alice", Since: now, Reason: "test", By: "milterd", Evidence: evs[1:]}
	if created, err := st.Suspend(ctx, s); !created || err != nil {
		t.Fatalf("suspend %v %v", created, err)
	}
	if created, _ := st.Suspend(ctx, s); created {
		t.Error("suspended twice")
	}
	if _, got, _ := st.Usage(ctx, "alice", now); got == nil || got.Reason != "test" || len(got.Evidence) != 2 || !got.Active(now) {
		t.Errorf("suspension read back %+v", got)
	}
	if all, _ := st.Suspensions(ctx); len(all) != 1 || all[0].Key != "alice" {
		t.Errorf("suspensions %+v", all)
	}
	if acc, _ := st.Accounts(ctx); len(acc) != 1 || acc[0] != "alice" {
		t.Errorf("accounts %v", acc)
	}
	if ok, _ := st.Unsuspend(ctx, "alice"); !ok {
		t.Error("unsuspend found nothing")
	}
	if ok, _ := st.Unsuspend(ctx, "alice"); ok {
		t.Error("unsuspended twice")
	}
	if err := st.Purge(ctx, now.Add(8*24*time.Hour)); err != nil {
		t.Error(err)
	}
}

// Admit holds a limit exactly under concurrency.
func TestAdmitConcurrent(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			admitted := 0
			now := time.Now()
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := st.Admit(context.Background(), "bulk", limits.Sent{ID: fmt.Sprint(i), Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 20}, now)
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if admitted != 20 {
				t.Errorf("admitted %d of 50 against a limit of 20", admitted)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	def := limits.Limits{MessagesPerDay: 1000}
	p, err := limits.NewPolicy(def, map[string]limits.Limits{
		"bulk@example.net":   {},
		"*@bulk.example.net": {MessagesPerDay: 50000},
		"*@*.example.net":    {MessagesPerDay: 2000},
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"alice": 1000, "bulk@example.net": 0, "x@bulk.example.net": 50000, "x@a.example.net": 2000} {
		if got := p.For(key).MessagesPerDay; got != want {
			t.Errorf("%s: %d, want %d", key, got, want)
		}
	}
	if !p.For("bulk@example.net").Unlimited() {
		t.Error("empty limits are not unlimited")
	}
}
