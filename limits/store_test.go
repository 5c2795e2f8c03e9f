package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// stores returns a fresh store of each kind.
func stores(t testing.TB) map[string]limits.Store {
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
	pg, err := limits.OpenPostgres(context.Background(), harness.StartPostgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	return map[string]limits.Store{"sqlite": sq, "redis": rd, "postgres": pg}
}

func TestStores(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) { testStore(t, st) })
	}
}

func testStore(t *testing.T, st limits.Store) {
	ctx := context.Background()
	// Mid-minute, so that "a second later" stays in the same bucket.
	now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	lim := limits.Limits{MessagesPerHour: 3, RecipientsPerDay: 10}

	// Buckets: a message 2 h ago counts for the day only.
	if _, ok, err := st.Admit(ctx, "alice", limits.Sent{Rcpts: []string{"a", "b"}, Time: now.Add(-2 * time.Hour)}, lim, now.Add(-2*time.Hour)); !ok || err != nil {
		t.Fatalf("admit old: %v %v", ok, err)
	}
	for i := range 3 {
		_, ok, err := st.Admit(ctx, "alice", limits.Sent{Host: "mx1", QueueID: fmt.Sprint("Q", i), Rcpts: []string{"x", "y"}[:1+i%2], Time: now.Add(time.Duration(i) * time.Second)}, lim, now)
		if !ok || err != nil {
			t.Fatalf("admit %d: %v %v", i, ok, err)
		}
	}
	u, ok, err := st.Admit(ctx, "alice", limits.Sent{Rcpts: []string{"x"}, Time: now}, lim, now)
	if ok || err != nil {
		t.Fatalf("4th message in an hour admitted: %v", err)
	}
	minute, hour := now.Truncate(time.Minute), now.Add(-2*time.Hour).Truncate(time.Hour)
	want := limits.Usage{MessagesHour: 3, MessagesDay: 4, RecipientsHour: 4, RecipientsDay: 6, OldestHour: minute, OldestDay: hour}
	if !u.OldestHour.Equal(want.OldestHour) || !u.OldestDay.Equal(want.OldestDay) {
		t.Errorf("oldest buckets %v %v, want %v %v", u.OldestHour, u.OldestDay, want.OldestHour, want.OldestDay)
	}
	u.OldestHour, u.OldestDay, want.OldestHour, want.OldestDay = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if u != want {
		t.Errorf("usage\n got %+v\nwant %+v", u, want)
	}
	if e := lim.Check(u, 1, 1); e == nil || e.What != "messages per hour" {
		t.Errorf("exceeded %+v", e)
	}
	// An hour and a minute later the hour window is empty, the day's not.
	if u2, _, err := st.Usage(ctx, "alice", now.Add(61*time.Minute)); u2.MessagesHour != 0 || u2.MessagesDay != 4 || err != nil {
		t.Errorf("usage an hour later %+v %v", u2, err)
	}

	// Message records: by host and queue id; delivered recipients drop out.
	if key, rcpts, err := st.Owner(ctx, "mx1", "Q1"); key != "alice" || len(rcpts) != 2 || err != nil {
		t.Errorf("owner %q %v %v", key, rcpts, err)
	}
	if err := st.Delivered(ctx, "mx1", map[string][]string{"Q1": {"x"}}); err != nil {
		t.Fatal(err)
	}
	if _, rcpts, _ := st.Owner(ctx, "mx1", "Q1"); len(rcpts) != 1 || rcpts[0] != "y" {
		t.Errorf("after delivery of x, pending %v", rcpts)
	}
	// Several messages at once, more recipients than one statement takes.
	many := []string{"x"}
	for i := range 1200 {
		many = append(many, fmt.Sprint("r", i))
	}
	if err := st.Delivered(ctx, "mx1", map[string][]string{"Q0": {"x"}, "Q2": many}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"Q0", "Q2"} {
		if _, rcpts, _ := st.Owner(ctx, "mx1", q); len(rcpts) != 0 {
			t.Errorf("%s after delivery of all its recipients, pending %v", q, rcpts)
		}
	}
	if key, _, err := st.Owner(ctx, "mx2", "Q1"); key != "" || err != nil {
		t.Errorf("another host's queue id found: %q %v", key, err)
	}
	if err := st.Delivered(ctx, "mx2", map[string][]string{"Q9": {"x"}}); err != nil {
		t.Errorf("delivery of an unknown message: %v", err)
	}
	if key, rcpts, _ := st.Owner(ctx, "mx2", "Q9"); key != "" || len(rcpts) != 0 {
		t.Errorf("a delivery made a record: %q %v", key, rcpts)
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

	// Refused messages: a count of their own, idempotent by id, the last
	// hour only; undeliverables are not among them.
	refs := []limits.Undeliverable{
		{ID: "m1", Kind: limits.KindMessage, Time: now.Add(-2 * time.Hour), Rcpt: "x@y", Status: "5.7.1", Source: "log"},
		{ID: "m2", Kind: limits.KindMessage, Time: now, Rcpt: "x@y", Status: "5.3.4", Source: "log", QueueID: "Q2"},
	}
	if n, err := st.AddRefused(ctx, "alice", append(refs, refs[1]), now); n != 1 || err != nil {
		t.Fatalf("refused count %d %v, want 1", n, err)
	}
	if n, _ := st.AddRefused(ctx, "alice", refs[1:], now); n != 1 {
		t.Errorf("a replayed refusal counted again: %d", n)
	}
	if got, err := st.Refused(ctx, "alice", now.Add(-3*time.Hour)); err != nil || len(got) != 2 || got[1].ID != "m2" || got[1].Kind != limits.KindMessage || got[1].QueueID != "Q2" {
		t.Errorf("refused %+v %v", got, err)
	}
	if got, _ := st.Undeliverables(ctx, "alice", now.Add(-3*time.Hour)); len(got) != 3 {
		t.Errorf("refused messages among the undeliverables: %d events", len(got))
	}

	// Suspension: once, persisted with evidence, lifted once.
	s := limits.Suspension{Key: "alice", Since: now, Reason: "test", By: "milterd", Evidence: evs[1:]}
	if created, err := st.Suspend(ctx, s, now); !created || err != nil {
		t.Fatalf("suspend %v %v", created, err)
	}
	if created, _ := st.Suspend(ctx, s, now); created {
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
	// Unsuspend acknowledges the evidence: the next bounce counts 1, not 3;
	// the events stay as history.
	later := now.Add(time.Second)
	if ok, _ := st.Unsuspend(ctx, "alice", later); !ok {
		t.Error("unsuspend found nothing")
	}
	if ok, _ := st.Unsuspend(ctx, "alice", later); ok {
		t.Error("unsuspended twice")
	}
	if acked, err := st.Acknowledged(ctx, "alice"); !acked.Equal(later) || err != nil {
		t.Errorf("acknowledged %v %v", acked, err)
	}
	next := []limits.Undeliverable{{ID: "e4", Time: later.Add(time.Second), Rcpt: "c@x", Status: "5.1.1", Source: "log"}}
	if n, _ := st.AddUndeliverable(ctx, "alice", next, later.Add(time.Second)); n != 1 {
		t.Errorf("after unsuspend, %d count toward the next suspension, want 1", n)
	}
	if got, _ := st.Undeliverables(ctx, "alice", now.Add(-3*time.Hour)); len(got) != 4 {
		t.Errorf("history after unsuspend: %d events, want 4", len(got))
	}
	m3 := []limits.Undeliverable{{ID: "m3", Kind: limits.KindMessage, Time: later.Add(time.Second), Rcpt: "x@y", Status: "5.7.26", Source: "log"}}
	if n, _ := st.AddRefused(ctx, "alice", m3, later.Add(time.Second)); n != 1 {
		t.Errorf("after unsuspend, %d refused messages count toward the next suspension, want 1", n)
	}
	// An expired suspension gives way to a new one, manual or not.
	exp := limits.Suspension{Key: "bob", Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour), Reason: "old", By: "milterd"}
	st.Suspend(ctx, exp, now.Add(-2*time.Hour))
	if created, err := st.Suspend(ctx, limits.Suspension{Key: "bob", Since: now, Reason: "manual", By: "abuse"}, now); !created || err != nil {
		t.Errorf("manual suspension over an expired one: %v %v", created, err)
	}
	if created, _ := st.Suspend(ctx, limits.Suspension{Key: "bob", Since: now, Reason: "again", By: "abuse"}, now); created {
		t.Error("suspended over an active suspension")
	}
	// Reset clears the counters.
	if err := st.Reset(ctx, "alice", later); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := st.Usage(ctx, "alice", later); u.MessagesHour != 0 || u.MessagesDay != 0 {
		t.Errorf("after reset %+v", u)
	}
	if err := st.Purge(ctx, now.Add(8*24*time.Hour)); err != nil {
		t.Error(err)
	}
}

// AddRefused counts exactly under concurrency, as Admit: each of 30
// concurrent refusals of one account sees a different count, 1 to 30, as
// if they had come one after the other; none is lost.
func TestAddRefusedConcurrent(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			seen := map[int]int{}
			now := time.Now()
			for i := range 30 {
				wg.Go(func() {
					n, err := st.AddRefused(context.Background(), "spammer", []limits.Undeliverable{{ID: fmt.Sprint("m", i), Kind: limits.KindMessage, Time: now, Status: "5.7.1", Source: "log"}}, now)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					seen[n]++
					mu.Unlock()
				})
			}
			wg.Wait()
			for n := 1; n <= 30; n++ {
				if seen[n] != 1 {
					t.Errorf("count %d returned %d times (%v): the refusals were not counted one after the other", n, seen[n], seen)
					break
				}
			}
		})
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
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := st.Admit(context.Background(), "bulk", limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 20}, now)
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
	if !p.For("bulk@example.net").Unlimited() || p.For("alice").Unlimited() {
		t.Error("empty limits are not unlimited")
	}
}

// The roles and grants of docs/postgres.md: milterd owns and migrates its
// tables; a reviewer opens the same store (no migration to write), lists,
// suspends, lifts and resets, and cannot touch the counters otherwise.
func TestPostgresGrants(t *testing.T) {
	pg := harness.StartPostgres(t)
	milterd := pg.Database("outguard", "milterd", "abusedesk")
	ctx := context.Background()
	m, err := limits.OpenPostgres(ctx, milterd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	now := time.Now()
	if _, ok, err := m.Admit(ctx, "alice", limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 5}, now); !ok || err != nil {
		t.Fatalf("milterd admit: %v %v", ok, err)
	}
	// As in docs/postgres.md.
	pg.SQL("outguard", `GRANT SELECT ON schema_version, counters, msgs, delivered, undeliverable, suspended, acks, sightings TO abusedesk;
		GRANT INSERT, UPDATE, DELETE ON suspended, acks TO abusedesk;
		GRANT DELETE ON counters TO abusedesk;
		GRANT SELECT, INSERT ON account_audit TO abusedesk;
		GRANT INSERT ON outbox TO abusedesk;
		GRANT SELECT ON campaigns, campaign_keys, campaign_links, campaign_accounts TO abusedesk;
		GRANT SELECT, INSERT, UPDATE, DELETE ON campaign_spared TO abusedesk;
		GRANT SELECT, INSERT, DELETE ON campaign_spared_accounts TO abusedesk;`)
	r, err := limits.OpenPostgres(ctx, pg.DSNFor("abusedesk", "outguard"))
	if err != nil {
		t.Fatalf("reviewer open: %v", err)
	}
	defer r.Close()
	if ok, err := r.Suspend(ctx, limits.Suspension{Key: "alice", Reason: "manual"}, now); !ok || err != nil {
		t.Fatalf("reviewer suspend: %v %v", ok, err)
	}
	if ok, err := r.Unsuspend(ctx, "alice", now); !ok || err != nil {
		t.Fatalf("reviewer unsuspend: %v %v", ok, err)
	}
	if err := r.Reset(ctx, "alice", now); err != nil {
		t.Fatalf("reviewer reset: %v", err)
	}
	if _, _, err := r.Admit(ctx, "alice", limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 5}, now); err == nil {
		t.Error("the reviewer's role counted a message: it should not write counters")
	}
	// milterctl records what the operator did and enqueues the alerts
	// of queue actions; milterd's courier delivers them.
	if err := r.Audit(ctx, limits.AuditEvent{Time: now, Account: "alice", Event: limits.AuditUnsuspended, By: "op"}); err != nil {
		t.Errorf("reviewer audit: %v", err)
	}
	if trail, err := r.AuditTrail(ctx, "alice", time.Time{}); err != nil || len(trail) != 1 {
		t.Errorf("reviewer audit trail: %v %v", trail, err)
	}
	if err := r.Enqueue(ctx, limits.OutboxItem{ID: "a webhook", AlertID: "a", Dest: limits.DestWebhook, Body: []byte("{}"), Created: now}); err != nil {
		t.Errorf("reviewer enqueue: %v", err)
	}
	if _, err := r.Claim(ctx, "op", now, time.Minute, 1); err == nil {
		t.Error("the reviewer's role claimed an outbox item: it should not deliver")
	}
	if items, err := m.Claim(ctx, "mx1", now, time.Minute, 1); err != nil || len(items) != 1 {
		t.Errorf("milterd claim: %v %v", items, err)
	}
	// campaigns spare and unspare (the desk), the spare read and ended
	// by milterd.
	id := establish(t, m, "petition", now)
	c, _ := m.CampaignByID(ctx, id)
	eng := &limits.Engine{Store: m, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
	if _, err := eng.SuspendCampaign(ctx, "petition0", *c, now); err != nil {
		t.Fatal(err)
	}
	if senders, err := r.CampaignSenders(ctx, id); err != nil || len(senders) != 5 {
		t.Errorf("reviewer campaign senders: %v %v", senders, err)
	}
	if err := r.SpareCampaign(ctx, id, "op", now, []string{"petition0"}); err != nil {
		t.Errorf("reviewer spare: %v", err)
	}
	if ok, err := r.LiftCampaign(ctx, "petition0", id); !ok || err != nil {
		t.Errorf("reviewer lift: %v %v", ok, err)
	}
	if ok, err := m.SparedAccount(ctx, id, "petition0", now, 15*time.Minute); !ok || err != nil {
		t.Errorf("milterd reads the spare: %v %v", ok, err)
	}
	if ok, err := m.UnspareCampaign(ctx, id); !ok || err != nil {
		t.Errorf("milterd ends the spare: %v %v", ok, err)
	}
	if ok, err := r.UnspareCampaign(ctx, id); ok || err != nil {
		t.Errorf("reviewer unspare of an ended spare: %v %v", ok, err)
	}
}

// Sightings: distinct values per signal in the hour window of the rate
// limits, seen again at a later time, acknowledged by unsuspend, evidence
// with first and last times.
func TestSightings(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
			net := func(v string, at time.Time) limits.Sighting {
				return limits.Sighting{Signal: limits.SignalNetworks, Value: v, First: at, Last: at, Detail: "addr " + v}
			}
			// 61 minutes ago is out of the window (the minute buckets), 59 in.
			if _, err := st.Sight(ctx, "alice", []limits.Sighting{net("192.0.2.0/24", now.Add(-61*time.Minute))}, now.Add(-61*time.Minute)); err != nil {
				t.Fatal(err)
			}
			n, err := st.Sight(ctx, "alice", []limits.Sighting{net("198.51.100.0/24", now.Add(-59*time.Minute)), {Signal: limits.SignalCountries, Value: "DE", First: now, Last: now}}, now)
			if err != nil || n[limits.SignalNetworks] != 1 || n[limits.SignalCountries] != 1 || n[limits.SignalSpam] != 0 {
				t.Fatalf("counts %v %v", n, err)
			}
			// The old network seen again now counts again, once.
			for range 2 {
				n, err = st.Sight(ctx, "alice", []limits.Sighting{net("192.0.2.0/24", now)}, now)
			}
			if err != nil || n[limits.SignalNetworks] != 2 {
				t.Fatalf("after seeing the old network again: %v %v", n, err)
			}
			// A sighting older than the one recorded does not move it back.
			st.Sight(ctx, "alice", []limits.Sighting{net("192.0.2.0/24", now.Add(-2*time.Hour))}, now)
			got, err := st.Sightings(ctx, "alice", now.Add(-3*time.Hour))
			if err != nil || len(got) != 3 {
				t.Fatalf("sightings %+v %v", got, err)
			}
			last := got[len(got)-1]
			if last.Value != "192.0.2.0/24" || !last.First.Equal(now.Add(-61*time.Minute)) || !last.Last.Equal(now) || last.Detail != "addr 192.0.2.0/24" {
				t.Errorf("sighting %+v: want first seen 61 minutes ago, last now", last)
			}
			// Another account's are its own.
			if n, _ := st.Sight(ctx, "bob", []limits.Sighting{net("203.0.113.0/24", now)}, now); n[limits.SignalNetworks] != 1 {
				t.Errorf("bob: %v", n)
			}
			// Unsuspend acknowledges: what was seen up to then no longer counts.
			st.Suspend(ctx, limits.Suspension{Key: "alice", Since: now, Reason: "test", By: "milterd"}, now)
			st.Unsuspend(ctx, "alice", now.Add(time.Second))
			n, err = st.Sight(ctx, "alice", []limits.Sighting{net("203.0.113.0/24", now.Add(2*time.Second))}, now.Add(2*time.Second))
			if err != nil || n[limits.SignalNetworks] != 1 || n[limits.SignalCountries] != 0 {
				t.Errorf("after unsuspend: %v %v", n, err)
			}
			// Retention: 7 days; what is older is gone after a purge (SQL)
			// or the account's next sighting (Redis).
			week := now.Add(8 * 24 * time.Hour)
			if err := st.Purge(ctx, week); err != nil {
				t.Fatal(err)
			}
			st.Sight(ctx, "alice", []limits.Sighting{net("203.0.113.0/24", week)}, week)
			if got, err := st.Sightings(ctx, "alice", time.Time{}); err != nil || len(got) != 1 || !got[0].Last.Equal(week) {
				t.Errorf("after 8 days: %+v %v", got, err)
			}
		})
	}
}

// Two writers add the values that cross a limit of one account at once,
// hundreds of times: the count is exact, so the crossing (limit+1) is seen
// by exactly one of them every time, on every store.
func TestSightTwoWritersCrossOnce(t *testing.T) {
	const rounds, limit = 200, 4
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now()
			for r := range rounds {
				key := fmt.Sprint("acct", r)
				for i := range limit - 1 {
					if _, err := st.Sight(ctx, key, []limits.Sighting{{Signal: limits.SignalNetworks, Value: fmt.Sprint("10.0.", i, ".0/24"), First: now, Last: now}}, now); err != nil {
						t.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				counts := make([]int, 2)
				for w := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						n, err := st.Sight(ctx, key, []limits.Sighting{{Signal: limits.SignalNetworks, Value: fmt.Sprint("10.1.", w, ".0/24"), First: now, Last: now}}, now)
						if err != nil {
							t.Error(err)
						}
						counts[w] = n[limits.SignalNetworks]
					}()
				}
				wg.Wait()
				crossed := 0
				for _, c := range counts {
					if c > limit {
						crossed++
					}
				}
				if crossed != 1 || counts[0]+counts[1] != 2*limit+1 {
					t.Fatalf("round %d: the two writers saw %v; want %d and %d, the crossing once", r, counts, limit, limit+1)
				}
			}
		})
	}
}

// storePairs returns, for each kind of store, two handles on one backend:
// two smarthosts sharing it.
func storePairs(t *testing.T) map[string][2]limits.Store {
	out := map[string][2]limits.Store{}
	for name, open := range openers(t) {
		out[name] = [2]limits.Store{open(), open()}
	}
	return out
}

// Two hosts count against one account at once, round after round: every
// operation that counts and compares sees the crossing of its threshold
// exactly once. New counters add their case here. Before: PostgreSQL's
// AddUndeliverable counted without the account's lock, and under READ
// COMMITTED two hosts adding 5 each against a threshold of 10 both saw 5
// (the crossing missed in most rounds).
func TestTwoHostsCrossOnce(t *testing.T) {
	const rounds = 300
	for name, pair := range storePairs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Now()
			both := func(f func(host int) int) [2]int {
				var got [2]int
				var wg sync.WaitGroup
				start := make(chan struct{})
				for h := range 2 {
					wg.Add(1)
					go func() { defer wg.Done(); <-start; got[h] = f(h) }()
				}
				close(start)
				wg.Wait()
				return got
			}
			for round := range rounds {
				// Undeliverable recipients: 5 from each host, threshold 10.
				key := fmt.Sprint("und", round)
				got := both(func(h int) int {
					var evs []limits.Undeliverable
					for i := range 5 {
						evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(h, ":", i), Time: now, Rcpt: "r@x", Status: "5.1.1", Source: "rcpt"})
					}
					n, err := pair[h].AddUndeliverable(ctx, key, evs, now)
					if err != nil {
						t.Error(err)
					}
					return n
				})
				if min(got[0], got[1]) != 5 || max(got[0], got[1]) != 10 {
					t.Fatalf("round %d: undeliverable counts %v, want one host to see 5 and the other 10", round, got)
				}
				// Limits: one message from each host against a limit of 1.
				key = fmt.Sprint("lim", round)
				got = both(func(h int) int {
					_, ok, err := pair[h].Admit(ctx, key, limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 1}, now)
					if err != nil {
						t.Error(err)
					}
					if ok {
						return 1
					}
					return 0
				})
				if got[0]+got[1] != 1 {
					t.Fatalf("round %d: admitted %v against a limit of 1", round, got)
				}
			}
		})
	}
}

// A store that stops answering (SIGSTOP: connections open, nothing
// answered) costs a message at MAIL the engine's Timeout, not the MTA's
// milter timeout: the check fails (limits.on_error answers) in time, and
// the next one works once the server is back.
func TestStalledStoreBounded(t *testing.T) {
	ctx := context.Background()
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 10}, nil)
	for name, c := range stoppableStores(t) {
		t.Run(name, func(t *testing.T) {
			e := &limits.Engine{Store: c.st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Timeout: time.Second}
			c.pause()
			start := time.Now()
			_, err := e.CheckMail(ctx, &policy.Transaction{User: "alice"}) // MAIL: no deadline of the MTA's
			took := time.Since(start)
			c.resume()
			if err == nil || took > 3*time.Second {
				t.Errorf("stopped %s: %v after %v", name, err, took)
			}
			if _, err := e.CheckMail(ctx, &policy.Transaction{User: "alice"}); err != nil {
				t.Errorf("after the server is back: %v", err)
			}
		})
	}
}

// TestQueued: a host's records of an account, and no other host's or
// account's; a host name with glob characters matches only itself.
func TestQueued(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for i, m := range []struct{ host, key, qid string }{
				{"mx1", "alice", "A1"}, {"mx1", "alice", "A2"}, {"mx2", "alice", "B1"},
				{"mx1", "bob", "C1"}, {"mx*", "alice", "D1"}, {"mx1", "alice", ""},
			} {
				if _, ok, err := st.Admit(ctx, m.key, limits.Sent{Host: m.host, QueueID: m.qid, Rcpts: []string{"r@x.test"}, Time: now.Add(time.Duration(i) * time.Millisecond)}, limits.Limits{}, now); !ok || err != nil {
					t.Fatalf("admit %v: %v %v", m, ok, err)
				}
			}
			for _, c := range []struct{ host, key, want string }{
				{"mx1", "alice", "[A1 A2]"}, {"mx2", "alice", "[B1]"}, {"mx*", "alice", "[D1]"}, {"mx1", "bob", "[C1]"}, {"mx3", "alice", "[]"},
			} {
				got, err := st.Queued(ctx, c.host, c.key)
				if err != nil || fmt.Sprint(got) != c.want {
					t.Errorf("Queued(%s, %s) = %v, %v; want %s", c.host, c.key, got, err, c.want)
				}
			}
		})
	}
}
