package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
)

// Two milterd of different schema versions start at once on one
// PostgreSQL: the newer migrates; the older, having read the old version
// before it waited for the lock, reads the newer one under it and refuses,
// so that it never runs on (nor writes back its version over) a layout it
// does not know. Before: the older wrote its version back over the newer.
func TestMigrateTwoVersionsAtOnce(t *testing.T) {
	pg := harness.StartPostgres(t)
	ctx := context.Background()
	var dbs [2]*sql.DB
	for i := range dbs {
		db, err := sqldb.OpenPostgres(pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	for round := range 10 {
		comp := fmt.Sprint("c", round)
		old := map[int]string{1: fmt.Sprintf(`CREATE TABLE %s_a (x INTEGER)`, comp)}
		// The newer one takes a while under the lock: the older has read
		// the version by then.
		newer := map[int]string{1: old[1], 2: fmt.Sprintf(`SELECT pg_sleep(0.2); CREATE TABLE %s_b (x INTEGER)`, comp)}
		var errs [2]error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); errs[1] = sqldb.Postgres.Migrate(ctx, dbs[1], comp, 2, newer) }()
		go func() { defer wg.Done(); errs[0] = sqldb.Postgres.Migrate(ctx, dbs[0], comp, 1, old) }()
		wg.Wait()
		if errs[1] != nil {
			t.Fatalf("round %d: the newer milterd: %v", round, errs[1])
		}
		var v int
		if err := dbs[0].QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = $1`, comp).Scan(&v); err != nil || v != 2 {
			t.Fatalf("round %d: schema version %d (%v) after both started, want 2; the older said %v", round, v, err, errs[0])
		}
		if errs[0] != nil && !strings.Contains(errs[0].Error(), "newer than this milterd's 1") {
			t.Fatalf("round %d: the older milterd: %v", round, errs[0])
		}
		// Started again, the older refuses at once.
		if err := sqldb.Postgres.Migrate(ctx, dbs[0], comp, 1, old); err == nil {
			t.Fatalf("round %d: the older milterd started on a newer schema", round)
		}
	}
}

// The pool takes its size from pool_max_conns, and the server its bounds
// from the DSN (config.Postgres.ConnString writes them there).
func TestOpenPostgresBounds(t *testing.T) {
	pg := harness.StartPostgres(t)
	db, err := sqldb.OpenPostgres(pg.DSN + " pool_max_conns=3 statement_timeout=1500 lock_timeout=700 connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := db.Stats().MaxOpenConnections; n != 3 {
		t.Errorf("pool of %d, want 3", n)
	}
	var st, lt string
	if err := db.QueryRow(`SELECT current_setting('statement_timeout'), current_setting('lock_timeout')`).Scan(&st, &lt); err != nil || st != "1500ms" || lt != "700ms" {
		t.Errorf("server settings %q %q %v", st, lt, err)
	}
	// The server ends a statement past statement_timeout.
	if _, err := db.Exec(`SELECT pg_sleep(3)`); err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("a 3 s statement: %v", err)
	}
	if _, err := sqldb.OpenPostgres(pg.DSN + " pool_max_conns=0"); err == nil {
		t.Error("a pool of 0 opened")
	}
}

// TestSQLiteRebind: SQLite's parameters are PostgreSQL's with '?' for
// '$', as the regexp `\$(\d+)` → `?$1` made them before (issue #32: by
// hand now, each statement of a message passes here), and a '$' that
// names no parameter stays.
func TestSQLiteRebind(t *testing.T) {
	re := regexp.MustCompile(`\$(\d+)`)
	for _, q := range []string{"", "SELECT 1", "SELECT $1", "a = $1 AND b IN ($2, $10, $123) AND c = '$' || $ || $x || $$ || $", "$1$2", "$$1", "€$1é$"} {
		if got, want := sqldb.SQLite.Rebind(q), re.ReplaceAllString(q, "?$1"); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", q, got, want)
		}
	}
}
