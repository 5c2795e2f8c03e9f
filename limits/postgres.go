package limits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// postgresMigrations[v] brings the limits schema from version v-1 to v.
// Version 1 was SQLite-only, so PostgreSQL starts at 2.
var postgresMigrations = map[int]string{
	2: `
CREATE TABLE IF NOT EXISTS counters (key TEXT NOT NULL, slot INTEGER NOT NULL, b BIGINT NOT NULL, msgs BIGINT NOT NULL, rcpts BIGINT NOT NULL, PRIMARY KEY (key, slot));
CREATE TABLE IF NOT EXISTS msgs (host TEXT NOT NULL, qid TEXT NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL, rcpts TEXT NOT NULL, PRIMARY KEY (host, qid));
CREATE INDEX IF NOT EXISTS msgs_t ON msgs (t);
CREATE TABLE IF NOT EXISTS delivered (host TEXT NOT NULL, qid TEXT NOT NULL, rcpt TEXT NOT NULL, t BIGINT NOT NULL, PRIMARY KEY (host, qid, rcpt));
CREATE INDEX IF NOT EXISTS delivered_t ON delivered (t);
CREATE TABLE IF NOT EXISTS undeliverable (key TEXT NOT NULL, id TEXT NOT NULL, t BIGINT NOT NULL, ev TEXT NOT NULL, PRIMARY KEY (key, id));
CREATE INDEX IF NOT EXISTS undeliverable_t ON undeliverable (key, t);
CREATE TABLE IF NOT EXISTS suspended (key TEXT PRIMARY KEY, until BIGINT NOT NULL, s TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (key TEXT PRIMARY KEY, t BIGINT NOT NULL);
`,
}

// postgres serialises an account's check and count with a transaction-scoped
// advisory lock on the account: two smarthosts admitting the same account
// wait for each other, other accounts do not.
var postgres = dialect{
	name:        "postgres",
	rebind:      func(q string) string { return q },
	lockAccount: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
	migrate: func(ctx context.Context, db *sql.DB) error {
		return migratePostgres(ctx, db, "limits", schemaVersion, postgresMigrations)
	},
}

// migratePostgres brings component's schema to version want, one migration
// a transaction, under a lock so that hosts starting together do it once;
// a schema newer than want is refused (an older milterd on a newer store).
func migratePostgres(ctx context.Context, db *sql.DB, component string, want int, migrations map[int]string) error {
	// Read first: a schema already current needs no write, so a reviewer's
	// role (milterctl) that may not create tables opens the store too.
	var v int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = $1`, component).Scan(&v)
	var pe *pgconn.PgError
	switch {
	case err == nil && v == want:
		return nil
	case err == nil && v > want:
		return fmt.Errorf("%s schema version %d is newer than this milterd's %d", component, v, want)
	case err != nil && !errors.Is(err, sql.ErrNoRows) && !(errors.As(err, &pe) && pe.Code == "42P01"): // undefined_table
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('outguard schema', 0))`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return err
	}
	v = 0
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT version FROM schema_version WHERE component = $1), 0)`, component).Scan(&v); err != nil {
		return err
	}
	if v > want {
		return fmt.Errorf("%s schema version %d is newer than this milterd's %d", component, v, want)
	}
	for next := v + 1; next <= want; next++ {
		if m, ok := migrations[next]; ok {
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return fmt.Errorf("%s schema version %d: %w", component, next, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (component, version) VALUES ($1, $2)
		ON CONFLICT (component) DO UPDATE SET version = excluded.version`, component, want); err != nil {
		return err
	}
	return tx.Commit()
}

// OpenPostgres connects to the PostgreSQL of dsn (a libpq key=value string
// or a postgres:// URL), creating or upgrading the schema.
func OpenPostgres(ctx context.Context, dsn string) (*SQLStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// database/sql reconnects by itself: a restarted server costs the
	// statements in flight, not the store.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	s, err := openSQL(ctx, db, postgres)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
