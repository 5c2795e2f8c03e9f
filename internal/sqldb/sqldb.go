// Package sqldb is what outguard's SQL stores share: the embedded SQLite
// and PostgreSQL for a fleet run the same statements, written with
// PostgreSQL's $N parameters, and version their schemas the same way.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also the database/sql driver "pgx"
	"modernc.org/sqlite"             // pure Go: no cgo beyond libyara's
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is what differs between the two.
type Dialect struct {
	Name string
	// Rebind turns $N parameters into the driver's.
	Rebind func(string) string
	// LockKey, run in a transaction with a key, keeps any other writer of
	// that key out until the commit ("": the transaction itself does, as
	// SQLite's IMMEDIATE transactions take the database's write lock).
	LockKey string
	// version reads and setVersion writes a component's schema version.
	version    func(ctx context.Context, q querier, component string) (int, error)
	setVersion func(ctx context.Context, tx *sql.Tx, component string, v int) error
	lock       []string // run before migrating: hosts starting together migrate once
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rebindQ turns PostgreSQL's parameters ($1) into SQLite's (?1): every
// '$' followed by a digit. By hand, not by regexp: every statement of a
// message's store work passes here (issue #32).
func rebindQ(q string) string {
	i := strings.IndexByte(q, '$')
	if i < 0 {
		return q
	}
	b := []byte(q)
	for ; i < len(b); i++ {
		if b[i] == '$' && i+1 < len(b) && '0' <= b[i+1] && b[i+1] <= '9' {
			b[i] = '?'
		}
	}
	return string(b)
}

// SQLite keeps the version in PRAGMA user_version: one component a file.
var SQLite = Dialect{
	Name:   "sqlite",
	Rebind: rebindQ,
	version: func(ctx context.Context, q querier, _ string) (int, error) {
		var v int
		return v, q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	},
	setVersion: func(ctx context.Context, tx *sql.Tx, _ string, v int) error {
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
		return err
	},
}

// Postgres keeps the versions in the table schema_version, a row per
// component, and locks with transaction-scoped advisory locks.
var Postgres = Dialect{
	Name:    "postgres",
	Rebind:  func(q string) string { return q },
	LockKey: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
	version: func(ctx context.Context, q querier, component string) (int, error) {
		var v int
		err := q.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = $1`, component).Scan(&v)
		var pe *pgconn.PgError
		if errors.Is(err, sql.ErrNoRows) || errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return 0, nil
		}
		return v, err
	},
	setVersion: func(ctx context.Context, tx *sql.Tx, component string, v int) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES ($1, $2)
			ON CONFLICT (component) DO UPDATE SET version = excluded.version`, component, v)
		return err
	},
	lock: []string{`SELECT pg_advisory_xact_lock(hashtextextended('outguard schema', 0))`,
		`CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`},
}

// Migrate brings component's schema to version want: migrations[v] takes
// it from v-1 to v (a version may have none in a dialect). A current schema
// is only read, so that a role that may not create tables (a reviewer's)
// opens the store too; a newer one is refused: an older milterd does not
// write a layout it does not know.
func (d Dialect) Migrate(ctx context.Context, db *sql.DB, component string, want int, migrations map[int]string) error {
	v, err := d.version(ctx, db, component)
	switch {
	case err != nil:
		return err
	case v == want:
		return nil
	case v > want:
		return fmt.Errorf("%s schema version %d is newer than this milterd's %d", component, v, want)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, l := range d.lock {
		if _, err := tx.ExecContext(ctx, l); err != nil {
			return err
		}
	}
	// Another host may have migrated while this one waited for the lock,
	// maybe a newer milterd: what counts is the version read under it.
	switch v, err = d.version(ctx, tx, component); {
	case err != nil:
		return err
	case v == want:
		return nil
	case v > want:
		return fmt.Errorf("%s schema version %d is newer than this milterd's %d", component, v, want)
	}
	for next := v + 1; next <= want; next++ {
		if m, ok := migrations[next]; ok {
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return fmt.Errorf("%s schema version %d: %w", component, next, err)
			}
		}
	}
	if err := d.setVersion(ctx, tx, component, want); err != nil {
		return err
	}
	return tx.Commit()
}

// OpenBusy is open, called again while SQLite refuses it SQLITE_BUSY
// (any extended code of it), for at most wait: processes that open a new
// file at once (two milterds on one state_dir started together, milterd
// and milterctl) can be refused while one of them switches it to WAL,
// before any busy handler waits.
func OpenBusy[T any](wait time.Duration, open func() (T, error)) (T, error) {
	deadline := time.Now().Add(wait)
	for {
		v, err := open()
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DefaultMaxConns is a pool's size when its DSN does not say
// (pool_max_conns, config.Postgres.ConnString).
const DefaultMaxConns = 10

// OpenPostgres opens a pool on dsn (libpq key=value or a postgres:// URL).
// database/sql reconnects by itself: a restarted server costs the
// statements in flight, not the pool. pool_max_conns in dsn sizes the
// pool; its other settings that are not libpq's own (statement_timeout,
// lock_timeout) go to the server at every connection.
func OpenPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	n := DefaultMaxConns
	if v, ok := cfg.RuntimeParams["pool_max_conns"]; ok {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			return nil, fmt.Errorf("pool_max_conns %q: want a number of 1 or more", v)
		}
		delete(cfg.RuntimeParams, "pool_max_conns")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}
