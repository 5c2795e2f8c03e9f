package limits_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/limits"
)

// BenchmarkBeginHotAccount is issue 32's MAIL stage on PostgreSQL for one
// busy account: 8 connections at once each calling og_begin with the
// account's usual login (one network, seen again and again), alternating
// call by call between schema 13's og_begin and schema 8's (created beside
// it as og_begin_v8 from schema 8's text, which calls og_sight as
// schema 11 left it: og_begin as it was on main): the baseline of the same
// run on the same server. Reported: each one's p50 and p99 in µs, their
// ratio, and the WAL each writes per call (measured apart, one after the
// other, 200 calls each).
func BenchmarkBeginHotAccount(b *testing.B) {
	ctx := context.Background()
	_, db := openPostgresAndDB(b)
	i := strings.Index(limits.StageFunctions, "CREATE OR REPLACE FUNCTION og_begin(")
	j := strings.Index(limits.StageFunctions[i:], "END $$;")
	if _, err := db.ExecContext(ctx, strings.Replace(limits.StageFunctions[i:i+j+len("END $$;")], "og_begin(", "og_begin_v8(", 1)); err != nil {
		b.Fatal(err)
	}
	call := func(fn string) {
		now := time.Now()
		fm, fh := now.Unix()/60-59, now.Unix()/3600-23
		t := now.UnixMilli()
		var n [6]int64
		var susp, js sql.NullString
		err := db.QueryRowContext(ctx, `SELECT * FROM `+fn+`($1, $2, $3, $4, $5, $6, $7, $8, $9)`, "hot@example.net", fm, fh,
			[]string{limits.SignalNetworks}, []string{"192.0.2.0/24"}, []int64{t}, []int64{t}, []string{"192.0.2.10"}, fm*60000).
			Scan(&n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &susp, &js)
		if err != nil {
			b.Fatal(fn, err)
		}
		if js.String != `{ "networks" : 1 }` {
			b.Fatal(fn, js.String)
		}
	}
	wal := func(fn string) float64 {
		var before, after int64
		lsn := `SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn`
		db.QueryRowContext(ctx, lsn).Scan(&before)
		for range 200 {
			call(fn)
		}
		db.QueryRowContext(ctx, lsn).Scan(&after)
		return float64(after-before) / 200
	}
	const conns = 8
	db.SetMaxOpenConns(conns + 1)
	call("og_begin") // the account's row exists before the runs
	var mu sync.Mutex
	took := map[string][]time.Duration{}
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			for k := c; k < b.N; k += conns {
				fn := []string{"og_begin_v8", "og_begin"}[k%2]
				start := time.Now()
				call(fn)
				d := time.Since(start)
				mu.Lock()
				took[fn] = append(took[fn], d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	q := func(fn string, p float64) float64 {
		ds := took[fn]
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds())
	}
	b.ReportMetric(q("og_begin_v8", 0.5), "v8_p50_µs")
	b.ReportMetric(q("og_begin_v8", 0.99), "v8_p99_µs")
	b.ReportMetric(q("og_begin", 0.5), "p50_µs")
	b.ReportMetric(q("og_begin", 0.99), "p99_µs")
	if v := q("og_begin", 0.99); v > 0 {
		b.ReportMetric(q("og_begin_v8", 0.99)/v, "p99_ratio_v8/13")
	}
	b.ReportMetric(wal("og_begin_v8"), "v8_WAL_B/call")
	b.ReportMetric(wal("og_begin"), "WAL_B/call")
}
