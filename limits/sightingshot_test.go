package limits_test

import (
	"context"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
)

// A MAIL that rewrites its login's sighting (a later minute: og_begin)
// updates the row in place on PostgreSQL (HOT: no new index entries),
// every time, as pg_stat_user_tables counts it. Before schema 14, none
// was HOT (t was in two indexes).
func TestSightingRewriteIsHOT(t *testing.T) {
	ctx := context.Background()
	srv := harness.StartPostgres(t)
	st, err := limits.OpenPostgres(ctx, srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.OpenPostgres(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const rewrites = 30
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i := range rewrites + 1 {
		now := t0.Add(time.Duration(i) * time.Minute)
		ss := []limits.Sighting{{Signal: limits.SignalNetworks, Value: "192.0.2.0/24", First: t0, Last: now, Detail: "192.0.2.7"}}
		if _, _, n, err := st.BeginMessage(ctx, "hot", ss, now); err != nil || n[limits.SignalNetworks] < 1 {
			t.Fatalf("MAIL %d: %v %v", i, n, err)
		}
	}
	// A backend's statistics reach the view when it ends (or after 10 s
	// idle).
	st.Close()
	var upd, hot int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := db.QueryRowContext(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'sightings'`).Scan(&upd, &hot); err != nil {
			t.Fatal(err)
		}
		if upd >= rewrites || time.Now().After(deadline) {
			break
		}
	}
	if upd != rewrites || hot != upd {
		t.Errorf("%d sighting rewrites, %d of them HOT; want %d, all HOT", upd, hot, rewrites)
	}
}
