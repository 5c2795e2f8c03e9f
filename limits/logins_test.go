package limits_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"outguard/internal/harness"
	"outguard/limits"
)

// login is what sightLogin records for a login of key from addr at t: the
// address, and its network (whose detail keeps only the last address).
func login(addr string, t time.Time) []limits.Sighting {
	a := netip.MustParseAddr(addr)
	return []limits.Sighting{
		{Signal: limits.SightingAddress, Value: a.String(), First: t, Last: t},
		{Signal: limits.SignalNetworks, Value: limits.Network(a).String(), First: t, Last: t, Detail: a.String()},
	}
}

// LoginsFrom finds every account that logged in from an address, most
// recent first, on every store: also one that logged in from another
// address of the same /24 since (its network sighting forgot the first),
// an IPv4 address given v4-mapped, an IPv6 address; a sighting older
// than the one recorded does not move it back; the address sightings
// count toward no limit and are not among an account's Sightings.
func TestLoginsFrom(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
			ix, ok := st.(limits.LoginIndex)
			if !ok {
				t.Fatalf("%T is no LoginIndex", st)
			}
			sight := func(key, addr string, at time.Time) map[string]int {
				n, err := st.Sight(ctx, key, login(addr, at), at)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			sight("alice", "192.0.2.5", now.Add(-2*time.Hour))
			sight("bob", "192.0.2.5", now.Add(-time.Minute))
			sight("alice", "192.0.2.6", now)
			sight("alice", "192.0.2.5", now.Add(-3*time.Hour)) // older: alice stays at -2h
			sight("carol", "2001:db8::25", now)
			if n := sight("carol", "2001:db8::26", now); n[limits.SignalNetworks] != 1 {
				t.Errorf("carol's counts %v: two addresses of one /48 are one network", n)
			}
			from := func(addr string, since time.Time) string {
				ls, err := ix.LoginsFrom(ctx, netip.MustParseAddr(addr), since)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, l := range ls {
					out = append(out, l.Account+"@"+l.Last.Sub(now).String()+" "+l.Addr.String())
				}
				return strings.Join(out, ", ")
			}
			for _, c := range []struct{ addr, since, want string }{
				{"192.0.2.5", "-3h", "bob@-1m0s 192.0.2.5, alice@-2h0m0s 192.0.2.5"},
				{"::ffff:192.0.2.5", "-3h", "bob@-1m0s 192.0.2.5, alice@-2h0m0s 192.0.2.5"},
				{"192.0.2.5", "-1h", "bob@-1m0s 192.0.2.5"},
				{"192.0.2.6", "-1h", "alice@0s 192.0.2.6"},
				{"192.0.2.7", "-3h", ""},
				{"2001:db8::25", "-1h", "carol@0s 2001:db8::25"},
			} {
				d, _ := time.ParseDuration(c.since)
				if got := from(c.addr, now.Add(d)); got != c.want {
					t.Errorf("logins from %s since %s: %q, want %q", c.addr, c.since, got, c.want)
				}
			}
			ss, err := st.Sightings(ctx, "alice", time.Time{})
			if err != nil || len(ss) != 1 || ss[0].Signal != limits.SignalNetworks || ss[0].Detail != "192.0.2.6" {
				t.Errorf("alice's sightings %+v %v: want her one network, last from .6", ss, err)
			}
			// Retention: 7 days.
			week := now.Add(8 * 24 * time.Hour)
			if err := st.Purge(ctx, week); err != nil {
				t.Fatal(err)
			}
			sight("dave", "192.0.2.5", week)
			if got := from("192.0.2.5", time.Time{}); got != "dave@192h0m0s 192.0.2.5" {
				t.Errorf("after 8 days: %q", got)
			}
		})
	}
}

// LoginsFrom reads an index, not every sighting, on SQLite and PostgreSQL
// (Redis: a sorted set per address); a database made before the index
// existed (schema version 3 or 4) gets it when it is opened.
func TestLoginsIndexed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	pg := harness.StartPostgres(t)
	plan := func(t *testing.T, driver, dsn, explain string) string {
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if driver == "pgx" {
			// A table this small is read whole unless that is off: the
			// plan shows whether an index can serve the query.
			conn.ExecContext(ctx, `SET enable_seqscan = off`)
		}
		rows, err := conn.QueryContext(ctx, explain)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var b strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for _, v := range vals {
				if x, ok := v.([]byte); ok {
					v = string(x)
				}
				fmt.Fprint(&b, v, " ")
			}
		}
		return b.String()
	}
	for _, c := range []struct {
		name, driver, dsn, explain, drop string
		open                             func() (limits.Store, error)
	}{
		{"sqlite", "sqlite", "file:" + path, `EXPLAIN QUERY PLAN SELECT key, t FROM sightings WHERE kind = 'address' AND value = '192.0.2.5' AND t > 0 ORDER BY t DESC, key`,
			`DROP INDEX sightings_by_value`, func() (limits.Store, error) { return limits.OpenSQLite(path) }},
		{"postgres", "pgx", pg.DSN, `EXPLAIN SELECT key, t FROM sightings WHERE kind = 'address' AND value = '192.0.2.5' AND t > 0 ORDER BY t DESC, key`,
			`DROP INDEX sightings_by_value; DELETE FROM schema_version WHERE component = 'limits_logins'`, func() (limits.Store, error) { return limits.OpenPostgres(ctx, pg.DSN) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []string{"new", "upgraded"} {
				st, err := c.open()
				if err != nil {
					t.Fatal(err)
				}
				st.Close()
				if p := plan(t, c.driver, c.dsn, c.explain); !strings.Contains(p, "sightings_by_value") {
					t.Errorf("%s database: the query does not use the index: %s", step, p)
				}
				// As a database of version 4 from before the index.
				db, err := sql.Open(c.driver, c.dsn)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, c.drop); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
		})
	}
}
