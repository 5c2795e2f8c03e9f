package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/internal/harness"
	"outguard/limits"
)

// BenchmarkLimitCheck measures the store work of one message (Usage at
// MAIL, Admit at end-of-message: the RCPT stage needs no round trip) over
// 1000 accounts, for each store, and reports checks per second. The
// baseline is the backend's bare round trip in the same run: two Redis
// PINGs, or two "SELECT 1" on SQLite or PostgreSQL.
func BenchmarkLimitCheck(b *testing.B) {
	ctx := context.Background()
	sq, rd, pg, addr := openStores(b)
	ping := redis.NewClient(&redis.Options{Addr: addr})
	defer ping.Close()
	sqlBase, err := limits.OpenSQLite(filepath.Join(b.TempDir(), "base.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer sqlBase.Close()

	lim := limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000, UndeliverablePerHour: 10} // the shipped defaults
	for name, c := range map[string]struct {
		st       limits.Store
		baseline func() error
	}{
		"sqlite":   {sq, func() error { return sqlBase.Ping(ctx) }},
		"redis":    {rd, func() error { return ping.Ping(ctx).Err() }},
		"postgres": {pg, func() error { return pg.Ping(ctx) }},
	} {
		b.Run(name, func(b *testing.B) {
			var tCheck, tBase time.Duration
			for i := 0; i < b.N; i++ {
				key := fmt.Sprintf("user%d@example.net", i%1000)
				now := time.Now()
				start := time.Now()
				if _, _, err := c.st.Usage(ctx, key, now); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := c.st.Admit(ctx, key, limits.Sent{Host: "mx1", QueueID: fmt.Sprint("Q", b.N, "-", i), Rcpts: []string{"a@x", "b@y"}, Time: now}, lim, now); err != nil || !ok {
					b.Fatal(ok, err)
				}
				tCheck += time.Since(start)
				start = time.Now()
				c.baseline()
				c.baseline()
				tBase += time.Since(start)
			}
			b.ReportMetric(float64(b.N)/tCheck.Seconds(), "checks/s")
			b.ReportMetric(tBase.Seconds()/tCheck.Seconds(), "ratio_vs_2_round_trips")
		})
	}
}

// BenchmarkLimitVolume is the cost of one message's store work (Usage at
// MAIL, Admit at end-of-message) for an account that has already sent 10,
// and one that has sent 100 000 messages in the last day, with real
// limits: the fixed-bucket windows make the two the same. Reported as the
// ratio of the 100 000 case to the 10 case, measured in the same run.
func BenchmarkLimitVolume(b *testing.B) {
	ctx := context.Background()
	sq, rd, pg, _ := openStores(b)
	// A bulk sender's override: limits that hold, and are checked.
	lim := limits.Limits{MessagesPerHour: 50000, MessagesPerDay: 500000, RecipientsPerHour: 100000, RecipientsPerDay: 1000000, UndeliverablePerHour: 10}
	for name, st := range map[string]limits.Store{"sqlite": sq, "redis": rd, "postgres": pg} {
		now := time.Now()
		// Fill the day once: the message times spread over the last 23 hours.
		fill := func(key string, n int) {
			for i := range n {
				t := now.Add(-23*time.Hour + time.Duration(i)*23*time.Hour/time.Duration(n)) // oldest first, as sent
				if _, ok, err := st.Admit(ctx, key, limits.Sent{Host: "mx1", QueueID: fmt.Sprint(key, i), Rcpts: []string{"a@x", "b@y"}, Time: t}, lim, t); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		}
		fill("quiet"+name, 10)
		fill("bulk"+name, 100000)
		b.Run(name, func(b *testing.B) {
			per := func(key string, n int) time.Duration {
				start := time.Now()
				for i := range n {
					now := time.Now()
					if _, _, err := st.Usage(ctx, key, now); err != nil {
						b.Fatal(err)
					}
					if _, ok, err := st.Admit(ctx, key, limits.Sent{Host: "mx1", QueueID: fmt.Sprint("B", b.N, i), Rcpts: []string{"a@x", "b@y"}, Time: now}, lim, now); err != nil || !ok {
						b.Fatal(ok, err)
					}
				}
				return time.Since(start) / time.Duration(n)
			}
			var quiet, bulk time.Duration
			for i := 0; i < b.N; i++ { // interleaved, so that drift hits both
				quiet += per("quiet"+name, 100)
				bulk += per("bulk"+name, 100)
			}
			b.ReportMetric(float64(quiet.Microseconds())/float64(b.N), "us/msg@10")
			b.ReportMetric(float64(bulk.Microseconds())/float64(b.N), "us/msg@100k")
			b.ReportMetric(bulk.Seconds()/quiet.Seconds(), "ratio_100k_vs_10")
		})
	}
}

// openStores opens a fresh SQLite store, a Redis store on a redis-server of
// its own and a PostgreSQL store on a server of its own, closed when the
// benchmark ends. The shared stores' clock check is off
// (limits/clock.go): BenchmarkLimitVolume fills a day in the past, whose
// rolls to buckets no longer counted the check refuses.
func openStores(b *testing.B) (*limits.SQLStore, *limits.Redis, *limits.SQLStore, string) {
	sq, err := limits.OpenSQLite(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sq.Close() })
	addr := harness.StartRedis(b).Addr
	rd, err := limits.OpenRedisOptions(context.Background(), limits.RedisOptions{Addr: addr, MaxClockSkew: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rd.Close() })
	pg, err := limits.OpenPostgres(context.Background(), harness.StartPostgres(b, "fsync=on").DSN+" outguard.max_clock_skew=0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	return sq, rd, pg, addr
}
