package quarantine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"outguard/internal/sqldb"
)

// Open opens (creating) the local quarantine in dir: an index and a
// message file per entry.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "msg"), 0o700); err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	// Another process opening it at once is waited for as for a lock
	// (busy_timeout: sqldb.OpenBusy).
	return sqldb.OpenBusy(10*time.Second, func() (*Store, error) { return openIndex(dir) })
}

func openIndex(dir string) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "index.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	s, err := open(context.Background(), db, sqldb.SQLite, sqliteMigrations, files{dir})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenPostgres connects to the shared quarantine at dsn, creating or
// upgrading its tables.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := open(ctx, db, sqldb.Postgres, postgresMigrations, chunks{db: db, d: sqldb.Postgres})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
