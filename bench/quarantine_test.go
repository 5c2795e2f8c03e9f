package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/quarantine"
)

// BenchmarkQuarantineWrite measures holding a message (the write whose
// commit milterd waits for before it answers the MTA) in the local store
// (a file fsync'd, then the SQLite index) and in the shared PostgreSQL
// (chunks and record in one transaction, fsync on, as in production), with
// fresh random messages of 10 KiB and 2 MiB, interleaved, and reports the
// ratio postgres/local in the same run.
func BenchmarkQuarantineWrite(b *testing.B) {
	ctx := context.Background()
	local, err := quarantine.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	pg, err := quarantine.OpenPostgres(ctx, harness.StartPostgres(b, "fsync=on").DSN)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	for _, size := range []int{10 << 10, 2 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			msg := make([]byte, size)
			put := func(s *quarantine.Store) time.Duration {
				rand.Read(msg)
				start := time.Now()
				if _, err := s.Put(ctx, quarantine.Record{Time: time.Now(), User: "alice", Rcpts: []string{"v@remote.test"}}, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			var l, p time.Duration
			for i := 0; i < b.N; i++ {
				l += put(local)
				p += put(pg)
			}
			b.SetBytes(int64(2 * size))
			b.ReportMetric(float64(l.Microseconds())/float64(b.N)/1000, "ms/local")
			b.ReportMetric(float64(p.Microseconds())/float64(b.N)/1000, "ms/postgres")
			b.ReportMetric(p.Seconds()/l.Seconds(), "ratio_postgres_vs_local")
		})
	}
}
