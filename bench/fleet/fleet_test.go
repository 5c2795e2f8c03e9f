package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"outguard/limits"
)

// The short form of the fleet, run by make test: 1000 accounts, 1500
// messages over an hour, 1 and 4 clients on each store (4 clients share
// one PostgreSQL and one Redis, or one SQLite file). Exactness is
// asserted (no window of any account past a limit, the store's counts
// equal to the log of admitted messages, and the busiest accounts did
// reach their limits, so that the check had something to hold); the rates
// and latencies are reported, not asserted: figures belong to the full run
// (docs/BENCHMARKS.md).
func TestFleetShort(t *testing.T) {
	s := StartStores(t)
	for _, clients := range []int{1, 4} {
		for _, kind := range []string{"sqlite", "postgres", "redis"} {
			r, err := Run(context.Background(), s, kind, Options{Accounts: 1000, Messages: 1500, Clients: clients, Sessions: 2, Seed: 3, Span: time.Hour, StoreTimeout: 2 * time.Minute})
			if err != nil {
				t.Fatalf("%s, %d clients: %v", kind, clients, err)
			}
			if r.OverAdmits > 0 || r.CountMismatches > 0 {
				t.Errorf("%s, %d clients: %d windows past a limit (of %d), %d counts differ from the log (of %d)", kind, clients, r.OverAdmits, r.WindowsChecked, r.CountMismatches, r.CountsChecked)
			}
			if r.Refused == 0 || r.Admitted+r.Refused != r.Messages {
				t.Errorf("%s, %d clients: %d admitted, %d refused of %d: want the busiest accounts refused at their limits", kind, clients, r.Admitted, r.Refused, r.Messages)
			}
			if r.Size.PerAccount <= 0 || kind != "sqlite" && r.Size.PerMessage <= 0 {
				t.Errorf("%s: no size measured: %+v", kind, r.Size)
			}
			t.Logf("%s, %d clients: %.0f checks/s, MAIL p99 %v, end-of-message p99 %v, %.0f B per active account, %.0f B per message (%s)", kind, clients, r.ChecksPerSecond(), r.MailP99, r.EOMP99, r.Size.PerAccount, r.Size.PerMessage, r.Size.Detail)
		}
	}
}

// The recount finds what it is there to find: an account admitted past
// its hour's limit within one window (not in two windows an hour apart),
// and a store whose count is not the log's.
func TestExactnessFindsOverAdmits(t *testing.T) {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 11, 30, 10, 0, 30, 0, time.UTC)
	var log []sent
	for i := range lim.MessagesPerHour {
		log = append(log, sent{key: 1, at: at.Add(time.Duration(i) * time.Second), rcpts: 1})
		log = append(log, sent{key: 2, at: at.Add(time.Duration(i) * time.Second), rcpts: 1})
		log = append(log, sent{key: 2, at: at.Add(time.Hour + time.Duration(i)*time.Second), rcpts: 1})
	}
	log = append(log, sent{key: 1, at: at.Add(59 * time.Minute), rcpts: 1})
	var r Result
	if err := exactness(context.Background(), &r, st, log, at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r.OverAdmits != 1 {
		t.Errorf("%d windows past a limit, want 1 (account 1's hour)", r.OverAdmits)
	}
	if r.CountMismatches != 2 { // the store is empty: neither account's day is there
		t.Errorf("%d counts differ from the log, want 2", r.CountMismatches)
	}
}

// A paced run (-rate) takes the time its rate says, whatever the store's
// speed: the p99 of docs/BENCHMARKS.md's paced runs is the latency at that
// load, not at saturation. And a rate beyond what the sessions keep is
// reported as late starts rather than hidden.
func TestFleetPaced(t *testing.T) {
	s := StartStores(t)
	r, err := Run(context.Background(), s, "sqlite", Options{Accounts: 100, Messages: 300, Clients: 2, Sessions: 2, Seed: 5, Span: time.Hour, StoreTimeout: 2 * time.Minute, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	if min := 299.0 / 200; r.Seconds < min {
		t.Errorf("300 messages at 200/s took %.2f s, want at least %.2f", r.Seconds, min)
	}
	r, err = Run(context.Background(), s, "sqlite", Options{Accounts: 100, Messages: 300, Clients: 1, Sessions: 1, Seed: 5, Span: time.Hour, StoreTimeout: 2 * time.Minute, Rate: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	if r.Late == 0 {
		t.Errorf("300 messages at 10⁹/s on one session: no late start reported")
	}
}
