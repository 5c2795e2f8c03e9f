package limits_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// Issue #32 review: og_admit and the admit script, one round trip each,
// must stay exact with 16 connections at once on three accounts, across
// an hour's boundary (the minute ring of the hour before still counts) and
// into the next hours (the hour free again, the day's limit binding).
func TestReviewSixteenClientsAcrossHours(t *testing.T) {
	const clients, each, perHour, perDay = 16, 6, 40, 60
	accounts := []string{"alice", "bob", "carol"}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	addr := harness.StartRedis(t).Addr
	dsn := harness.StartPostgres(t).DSN
	for name, open := range map[string]func() (limits.Store, error){
		"sqlite":   func() (limits.Store, error) { return limits.OpenSQLite(path) },
		"redis":    func() (limits.Store, error) { return limits.OpenRedis(ctx, addr) },
		"postgres": func() (limits.Store, error) { return limits.OpenPostgres(ctx, dsn) },
	} {
		t.Run(name, func(t *testing.T) {
			var sts [clients]limits.Store
			for i := range sts {
				st, err := open()
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				sts[i] = st
			}
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
								_, ok, _, err := sts[c].CommitMessage(ctx, acct, limits.Sent{Host: fmt.Sprint("mx", c), QueueID: fmt.Sprint("Q", now.Unix(), "-", i, "-", a), Rcpts: []string{"r@x.test"}, Time: now}, lim, nil, now)
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
