package limits_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
)

// Issue 32: on PostgreSQL a MAIL that sees the login's sightings as they
// are stored (same value, same minute, same address, after the last
// acknowledgement) writes no row (the row's version, xmin, stays), and
// the counts are those of the exact times: a value seen again later in
// its minute leaves the window when the exact time would, a new minute,
// a new address or an acknowledgement writes it again. Before schema 13
// og_begin rewrote every sighting on every MAIL.
func TestBeginWritesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	st, db := openPostgresAndDB(t)
	now := time.Now().Truncate(time.Minute).Add(10 * time.Second)
	net := func(v, addr string, at time.Time) limits.Sighting {
		return limits.Sighting{Signal: limits.SignalNetworks, Value: v, First: at, Last: at, Detail: addr}
	}
	begin := func(at time.Time, ss ...limits.Sighting) int {
		t.Helper()
		_, _, c, err := st.BeginMessage(ctx, "alice", ss, at)
		if err != nil {
			t.Fatal(err)
		}
		return c[limits.SignalNetworks]
	}
	row := func(v string) (xmin string, last int64, detail string) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT xmin::TEXT, t, detail FROM sightings WHERE key = 'alice' AND value = $1`, v).Scan(&xmin, &last, &detail); err != nil {
			t.Fatal(err)
		}
		return
	}
	const a, b = "192.0.2.0/24", "198.51.100.0/24"
	if n := begin(now, net(a, "192.0.2.1", now)); n != 1 {
		t.Fatalf("first MAIL: %d networks", n)
	}
	x0, _, _ := row(a)
	// The same login 30 s later, in the same minute: nothing written.
	if n := begin(now.Add(30*time.Second), net(a, "192.0.2.1", now.Add(30*time.Second))); n != 1 {
		t.Fatalf("second MAIL: %d networks", n)
	}
	if x, _, _ := row(a); x != x0 {
		t.Errorf("a MAIL that changed nothing rewrote the sighting (xmin %s, then %s)", x0, x)
	}
	// Another address of the network in the same minute: written.
	begin(now.Add(40*time.Second), net(a, "192.0.2.7", now.Add(40*time.Second)))
	x1, last, detail := row(a)
	if x1 == x0 || detail != "192.0.2.7" || last != now.Add(40*time.Second).UnixMilli() {
		t.Errorf("a new address: xmin %s (was %s), detail %q, last %d", x1, x0, detail, last)
	}
	// The next minute: written.
	next := now.Add(time.Minute)
	begin(next, net(a, "192.0.2.7", next))
	if x, last, _ := row(a); x == x1 || last != next.UnixMilli() {
		t.Errorf("a new minute: xmin %s (was %s), last %d, want %d", x, x1, last, next.UnixMilli())
	}
	// Seen again 30 s into that minute (not written): the window drops it
	// when the exact time would, 60 minutes after its minute.
	begin(next.Add(30*time.Second), net(a, "192.0.2.7", next.Add(30*time.Second)))
	end := next.Add(59*time.Minute + 45*time.Second)
	if n := begin(end, net(b, "198.51.100.1", end)); n != 2 {
		t.Errorf("59 min 45 s after the minute: %d networks, want 2", n)
	}
	if n := begin(end.Add(20*time.Second), net(b, "198.51.100.1", end.Add(20*time.Second))); n != 1 {
		t.Errorf("60 min 5 s after the minute: %d networks, want 1", n)
	}
	// An acknowledgement (unsuspend) in the stored minute: the value seen
	// after it counts again, once written.
	ack := end.Add(21 * time.Second)
	if _, err := st.Unsuspend(ctx, "alice", ack); err != nil {
		t.Fatal(err)
	}
	if n := begin(ack.Add(time.Second), net(b, "198.51.100.1", ack.Add(time.Second))); n != 1 {
		t.Errorf("after the acknowledgement, seen again in the same minute: %d networks, want 1", n)
	}
}

// Issue 32: og_begin's MAIL that changes nothing takes no lock, but one
// that adds a value still counts under the sightings' lock: two hosts'
// MAILs at once, each adding a network beside one already stored (and
// unchanged), see 2 and 3, never both 2, round after round.
func TestBeginCrossesOnce(t *testing.T) {
	ctx := context.Background()
	dsn := harness.StartPostgres(t).DSN
	var sts [2]limits.Store
	for h := range sts {
		st, err := limits.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		sts[h] = st
	}
	now := time.Now()
	net := func(v string) limits.Sighting {
		return limits.Sighting{Signal: limits.SignalNetworks, Value: v, First: now, Last: now, Detail: v}
	}
	for round := range 200 {
		key := fmt.Sprint("cross", round)
		if _, _, _, err := sts[0].BeginMessage(ctx, key, []limits.Sighting{net("old")}, now); err != nil {
			t.Fatal(err)
		}
		var got [2]int
		var wg sync.WaitGroup
		start := make(chan struct{})
		for h := range sts {
			wg.Go(func() {
				<-start
				_, _, c, err := sts[h].BeginMessage(ctx, key, []limits.Sighting{net("old"), net(fmt.Sprint("new", h))}, now)
				if err != nil {
					t.Error(err)
				}
				got[h] = c[limits.SignalNetworks]
			})
		}
		close(start)
		wg.Wait()
		if min(got[0], got[1]) != 2 || max(got[0], got[1]) != 3 {
			t.Fatalf("round %d: counts %v, want one MAIL to see 2 and the other 3", round, got)
		}
	}
}

// openPostgresAndDB opens the limits store on a PostgreSQL of tb's own,
// and a plain connection to it beside; both closed with tb.
func openPostgresAndDB(tb testing.TB) (limits.Store, *sql.DB) {
	dsn := harness.StartPostgres(tb).DSN
	st, err := limits.OpenPostgres(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return st, db
}
