package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"outguard/internal/sqldb"
)

// profileSettings start the PostgreSQL servers of a -profile run: the
// statements' server time (pg_stat_statements) and the WAL's write and
// sync time (pg_stat_wal).
var profileSettings = []string{"shared_preload_libraries=pg_stat_statements", "track_wal_io_timing=on", "pg_stat_statements.track=all"}

// pgProfile is the server side of one run on PostgreSQL: what its
// sessions wait for (pg_stat_activity sampled every few milliseconds:
// the account's advisory lock, the WAL's flush, the CPU), and at the end
// the statements' server time and the WAL's counters.
type pgProfile struct {
	dsn     string
	waits   map[string]int
	samples int
	stop    chan struct{}
	done    chan struct{}
}

// startProfile resets the database's statistics and starts sampling.
func startProfile(ctx context.Context, dsn string) (*pgProfile, error) {
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`, `SELECT pg_stat_statements_reset()`, `SELECT pg_stat_reset_shared('wal')`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	p := &pgProfile{dsn: dsn, waits: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer db.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			rows, err := db.QueryContext(ctx, `SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
				WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var w string
				if rows.Scan(&w) == nil {
					p.waits[w]++
				}
			}
			rows.Close()
			p.samples++
		}
	}()
	return p, nil
}

// report stops sampling and describes the run: each wait's share of the
// active sessions' samples, the top statements by server time, the WAL.
func (p *pgProfile) report(ctx context.Context, messages int) string {
	close(p.stop)
	<-p.done
	var b strings.Builder
	total := 0
	for _, n := range p.waits {
		total += n
	}
	type kv struct {
		k string
		n int
	}
	var ws []kv
	for k, n := range p.waits {
		ws = append(ws, kv{k, n})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].n > ws[j].n })
	fmt.Fprintf(&b, "active sessions sampled every 5 ms (%d samples, %.1f active on average):", p.samples, float64(total)/float64(max(p.samples, 1)))
	for _, w := range ws[:min(len(ws), 6)] {
		fmt.Fprintf(&b, " %s %.0f %%;", w.k, 100*float64(w.n)/float64(total))
	}
	db, err := sqldb.OpenPostgres(p.dsn)
	if err != nil {
		return b.String() + " " + err.Error()
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT regexp_replace(query, '\s+', ' ', 'g'), calls, mean_exec_time, max_exec_time, wal_bytes::BIGINT
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel ORDER BY total_exec_time DESC LIMIT 3`)
	if err != nil {
		return b.String() + " " + err.Error()
	}
	defer rows.Close()
	b.WriteString(" statements by server time:")
	for rows.Next() {
		var q string
		var calls, wal int64
		var mean, maxT float64
		if rows.Scan(&q, &calls, &mean, &maxT, &wal) == nil {
			if len(q) > 40 {
				q = q[:40] + "…"
			}
			fmt.Fprintf(&b, " `%s` %d calls, mean %.3f ms, max %.1f ms, %d B WAL each;", q, calls, mean, maxT, wal/max(calls, 1))
		}
	}
	var records, fpi, bytes, writes, syncs int64
	var writeMS, syncMS float64
	if err := db.QueryRowContext(ctx, `SELECT wal_records, wal_fpi, wal_bytes::BIGINT, wal_write, wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal`).Scan(&records, &fpi, &bytes, &writes, &syncs, &writeMS, &syncMS); err == nil {
		fmt.Fprintf(&b, " WAL: %d syncs for %d messages (%.2f per message), %.2f ms a sync, %d full-page images", syncs, messages, float64(syncs)/float64(messages), syncMS/float64(max(syncs, 1)), fpi)
	}
	return b.String()
}
