package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// Issue #32 review: og_admit and the admit script, one round trip each,
// must stay exact with 16 connections at once on three accounts, across
// an hour's boundary (the minute ring of the hour before still counts) and
// into the next hours (the hour free again, the day's limit binding).
func TestReviewSixteenClientsAcrossHours(t *testing.T) {
	const clients, each, perHour, perDay = 16, 6, 40, 60
	accounts := []string{"alice", "bob", "carol"}
	ctx := context.Background()
	// Its phases run 30 hours ago and on, by the host's clock only: the
	// store's clock check (clock.go, rollLua) would refuse their rolls.
	for name, open := range simulatedOpeners(t) {
		t.Run(name, func(t *testing.T) {
			sts := openClients(t, open, clients)
			lim := limits.Limits{MessagesPerHour: perHour, MessagesPerDay: perDay}
			base := time.Now().Truncate(time.Hour).Add(-30 * time.Hour).Add(59*time.Minute + 30*time.Second)
			phase := func(now time.Time) map[string]int64 {
				var admitted [3]atomic.Int64
				start := make(chan struct{})
				var wg sync.WaitGroup
				for c := range clients {
					wg.Go(func() {
						<-start
						for i := range each {
							for a, acct := range accounts {
								_, ok, _, _, err := sts[c].CommitMessage(ctx, acct, limits.Sent{Host: fmt.Sprint("mx", c), QueueID: fmt.Sprint("Q", now.Unix(), "-", i, "-", a), Rcpts: []string{"r@x.test"}, Time: now}, lim, nil, now)
								if err != nil {
									t.Error(err)
									return
								}
								if ok {
									admitted[a].Add(1)
								}
							}
						}
					})
				}
				close(start)
				wg.Wait()
				out := map[string]int64{}
				for a, acct := range accounts {
					out[acct] = admitted[a].Load()
				}
				return out
			}
			// 96 attempts an account a phase.
			p1 := phase(base)                                   // hh:59:30: 40 of the hour
			p2 := phase(base.Add(time.Minute))                  // (hh+1):00:30: the same hour window: none
			p3 := phase(base.Add(2 * time.Hour))                // the hour free: the day has 20 left
			p4 := phase(base.Add(3 * time.Hour))                // the day full: none
			p5 := phase(base.Add(24*time.Hour + 2*time.Minute)) // p1's and p2's hour left the day: 40
			for _, acct := range accounts {
				got := []int64{p1[acct], p2[acct], p3[acct], p4[acct], p5[acct]}
				want := []int64{perHour, 0, perDay - perHour, 0, perHour}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: admitted %v in the five phases, want %v", acct, got, want)
				}
			}
		})
	}
}

// Issue #32 review: end-of-message's one round trip (og_admit, which holds
// the account's advisory lock, and the admit script) against a stopped
// server is bounded by the engine's timeout and fails (the pipeline then
// applies limits' on_error), and once the server is back the account is
// neither locked out nor counted more than once for it.
func TestReviewStalledCommitBounded(t *testing.T) {
	ctx := context.Background()
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 10}, nil)
	for name, c := range stoppableStores(t) {
		t.Run(name, func(t *testing.T) {
			e := &limits.Engine{Store: c.st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Timeout: time.Second}
			tx := &policy.Transaction{User: "alice", QueueID: "Q1", Rcpts: []string{"bob@remote.test"}}
			if v, err := e.CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
				t.Fatalf("MAIL: %v %v", v, err)
			}
			c.pause()
			start := time.Now()
			_, err := e.Commit(ctx, tx)
			took := time.Since(start)
			c.resume()
			if err == nil || took > 3*time.Second {
				t.Errorf("stopped %s: end of message %v after %v", name, err, took)
			}
			tx2 := &policy.Transaction{User: "alice", QueueID: "Q2", Rcpts: []string{"bob@remote.test"}}
			if _, err := e.CheckMail(ctx, tx2); err != nil {
				t.Fatalf("after the server is back: %v", err)
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if v, err := e.Commit(cctx, tx2); err != nil || v.Action != policy.Accept {
				t.Fatalf("after the server is back: %v %v (the account's lock still held?)", v, err)
			}
			time.Sleep(200 * time.Millisecond) // a cancelled call that ran after all
			if u, _, err := c.st.Usage(ctx, "alice", time.Now()); err != nil || u.MessagesHour < 1 || u.MessagesHour > 2 {
				t.Errorf("usage %+v %v: want the message after the stall, and the stalled one at most once", u, err)
			}
		})
	}
}

// stoppable is a store on a server the test can stop (SIGSTOP) and resume.
type stoppable struct {
	st            limits.Store
	pause, resume func()
}

// stoppableStores are a Redis and a PostgreSQL store on servers of their
// own, closed with the test.
func stoppableStores(t *testing.T) map[string]stoppable {
	ctx := context.Background()
	rd := harness.StartRedis(t)
	r, err := limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: rd.Addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	pg := harness.StartPostgres(t)
	p, err := limits.OpenPostgres(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return map[string]stoppable{"redis": {r, rd.Pause, rd.Resume}, "postgres": {p, pg.Pause, pg.Resume}}
}

// storeOpeners open a client of each store: SQLite (one file), Redis and
// PostgreSQL (servers of their own, for the test).
func storeOpeners(t *testing.T) map[string]func() (limits.Store, error) {
	return clockOpeners(t, false)
}

// simulatedOpeners are storeOpeners for a test whose clock is not the
// servers': the shared stores' clock check is off (PostgreSQL's
// outguard.max_clock_skew=0, Redis' MaxClockSkew < 0).
func simulatedOpeners(t *testing.T) map[string]func() (limits.Store, error) {
	return clockOpeners(t, true)
}

// clockOpeners: simulated turns the shared stores' clock check off.
func clockOpeners(t *testing.T, simulated bool) map[string]func() (limits.Store, error) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	ro := limits.RedisOptions{Addr: harness.StartRedis(t).Addr}
	dsn := harness.StartPostgres(t).DSN
	if simulated {
		ro.MaxClockSkew = -1
		dsn += " outguard.max_clock_skew=0"
	}
	return map[string]func() (limits.Store, error){
		"sqlite":   func() (limits.Store, error) { return limits.OpenSQLite(path) },
		"redis":    func() (limits.Store, error) { return limits.OpenRedisOptions(ctx, ro) },
		"postgres": func() (limits.Store, error) { return limits.OpenPostgres(ctx, dsn) },
	}
}

// openClients opens n clients of one store, closed with the test.
func openClients(t *testing.T, open func() (limits.Store, error), n int) []limits.Store {
	sts := make([]limits.Store, n)
	for i := range sts {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		sts[i] = st
	}
	return sts
}
