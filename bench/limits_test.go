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
// PINGs, or two SQLite "SELECT 1".
func BenchmarkLimitCheck(b *testing.B) {
	ctx := context.Background()
	sq, err := limits.OpenSQLite(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer sq.Close()
	addr := harness.StartRedis(b).Addr
	rd, err := limits.OpenRedis(ctx, addr)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	ping := redis.NewClient(&redis.Options{Addr: addr})
	defer ping.Close()
	sqlBase, err := limits.OpenSQLite(filepath.Join(b.TempDir(), "base.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer sqlBase.Close()

	lim := limits.Limits{MessagesPerHour: 1 << 30, MessagesPerDay: 1 << 30, RecipientsPerHour: 1 << 30, RecipientsPerDay: 1 << 30}
	for name, c := range map[string]struct {
		st       limits.Store
		baseline func() error
	}{
		"sqlite": {sq, func() error { return sqlBase.Ping(ctx) }},
		"redis":  {rd, func() error { return ping.Ping(ctx).Err() }},
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
				if _, ok, err := c.st.Admit(ctx, key, limits.Sent{ID: fmt.Sprint(b.N, "-", i), QueueID: fmt.Sprint("Q", b.N, "-", i), Rcpts: []string{"a@x", "b@y"}, Time: now}, lim, now); err != nil || !ok {
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
