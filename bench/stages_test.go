package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// BenchmarkStages is each store's work for one message as milterd does it
// (limits/stage.go): BeginMessage at MAIL with the login's network, and
// CommitMessage at end-of-message, over 1000 accounts, one client,
// interleaved message by message with the same on a SQLite store of its
// own: the baseline of the same run. Reported: checks (messages) per
// second of the store and of SQLite, the ratio of the two, and each
// stage's mean. PostgreSQL three times: with fsync on, as in production
// (og_admit's commit not waiting for the WAL's flush since schema 11:
// docs/postgres.md, "Durability"), the same with the site's setting that
// makes it wait (postgres-sync, as before schema 11), and with fsync off.
func BenchmarkStages(b *testing.B) {
	ctx := context.Background()
	sq, rd, pg, _ := openStores(b)
	nosync, err := limits.OpenPostgres(ctx, harness.StartPostgres(b).DSN)
	if err != nil {
		b.Fatal(err)
	}
	defer nosync.Close()
	sync, err := limits.OpenPostgres(ctx, harness.StartPostgres(b, "fsync=on").DSN+" outguard.synchronous_commit=on")
	if err != nil {
		b.Fatal(err)
	}
	defer sync.Close()
	base, err := limits.OpenSQLite(filepath.Join(b.TempDir(), "base.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer base.Close()
	lim := limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000, UndeliverablePerHour: 10}
	message := func(st limits.Store, n, i int) (begin, commit time.Duration) {
		key := fmt.Sprintf("user%d@example.net", i%1000)
		now := time.Now()
		login := []limits.Sighting{{Signal: limits.SignalNetworks, Value: fmt.Sprintf("10.%d.%d.0/24", i%1000/250, i%3), First: now, Last: now, Detail: "10.0.0.1"}}
		start := time.Now()
		if _, _, _, err := st.BeginMessage(ctx, key, login, now); err != nil {
			b.Fatal(err)
		}
		begin = time.Since(start)
		start = time.Now()
		if _, ok, _, _, err := st.CommitMessage(ctx, key, limits.Sent{Host: "mx1", QueueID: fmt.Sprint("Q", n, "-", i), Rcpts: []string{"a@x", "b@y"}, Time: now}, lim, nil, now); err != nil || !ok {
			b.Fatal(ok, err)
		}
		return begin, time.Since(start)
	}
	for _, c := range []struct {
		name string
		st   limits.Store
	}{{"sqlite", sq}, {"redis", rd}, {"postgres", pg}, {"postgres-sync", sync}, {"postgres-fsync-off", nosync}} {
		b.Run(c.name, func(b *testing.B) {
			var tBegin, tCommit, tBase time.Duration
			for i := 0; i < b.N; i++ {
				bg, cm := message(c.st, b.N, i)
				tBegin, tCommit = tBegin+bg, tCommit+cm
				bg, cm = message(base, b.N, i)
				tBase += bg + cm
			}
			b.ReportMetric(float64(b.N)/(tBegin+tCommit).Seconds(), "checks/s")
			b.ReportMetric(float64(b.N)/tBase.Seconds(), "sqlite_checks/s")
			b.ReportMetric(tBase.Seconds()/(tBegin+tCommit).Seconds(), "ratio_vs_sqlite")
			b.ReportMetric(float64(tBegin.Microseconds())/float64(b.N), "µs/begin")
			b.ReportMetric(float64(tCommit.Microseconds())/float64(b.N), "µs/commit")
		})
	}
}
