package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure Go: no cgo beyond libyara's
)

// SQLite is the embedded store: one file in state_dir, shared safely with
// milterctl (WAL, busy timeout, writes in IMMEDIATE transactions).
type SQLite struct {
	db                  *sql.DB
	usage, state, admit *sql.Stmt // the per-message statements, prepared once
}

const schema = `
CREATE TABLE IF NOT EXISTS sent (key TEXT NOT NULL, id TEXT NOT NULL, t INTEGER NOT NULL, rcpts INTEGER NOT NULL, qid TEXT NOT NULL, rcptlist TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sent_t ON sent (key, t);
CREATE INDEX IF NOT EXISTS sent_qid ON sent (qid) WHERE qid != '';
CREATE TABLE IF NOT EXISTS undeliverable (key TEXT NOT NULL, id TEXT NOT NULL, t INTEGER NOT NULL, ev TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS undeliverable_t ON undeliverable (key, t);
CREATE TABLE IF NOT EXISTS suspended (key TEXT PRIMARY KEY, s TEXT NOT NULL);
`

// OpenSQLite opens (creating if needed) the store at path.
func OpenSQLite(path string) (*SQLite, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// One connection: writes are serialised in-process, and IMMEDIATE
	// transactions serialise them against milterctl.
	db.SetMaxOpenConns(1)
	s := &SQLite{db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}

// Per message the store runs two statements: usageQuery at MAIL, then at
// end-of-message admitQuery, which inserts the message (with its queue id
// and recipients, for the log follower) only if every limit holds:
// atomically, since one statement is one transaction, and one WAL commit.
const (
	usageQuery = `SELECT
		COALESCE(SUM(t > ?1), 0), COUNT(*),
		COALESCE(SUM(CASE WHEN t > ?1 THEN rcpts END), 0), COALESCE(SUM(rcpts), 0),
		MIN(CASE WHEN t > ?1 THEN t END), MIN(t)
		FROM sent WHERE key = ?2 AND t > ?3`
	// stateQuery is usageQuery with the suspension: MAIL FROM's one statement.
	stateQuery = `SELECT u.*, (SELECT s FROM suspended WHERE key = ?2) FROM (` + usageQuery + `) AS u`
	admitQuery = `INSERT OR IGNORE INTO sent (key, id, t, rcpts, qid, rcptlist)
		SELECT ?1, ?2, ?3, ?4, ?11, ?12 FROM (SELECT
			COALESCE(SUM(t > ?5), 0) AS mh, COUNT(*) AS md,
			COALESCE(SUM(CASE WHEN t > ?5 THEN rcpts END), 0) AS rh, COALESCE(SUM(rcpts), 0) AS rd
			FROM sent WHERE key = ?1 AND t > ?6)
		WHERE (?7 = 0 OR mh + 1 <= ?7) AND (?8 = 0 OR md + 1 <= ?8)
		  AND (?9 = 0 OR rh + ?4 <= ?9) AND (?10 = 0 OR rd + ?4 <= ?10)`
)

func (s *SQLite) init() error {
	if _, err := s.db.Exec(schema); err != nil {
		return err
	}
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&s.usage, usageQuery},
		{&s.admit, admitQuery},
		{&s.state, stateQuery},
	} {
		if *p.dst, err = s.db.Prepare(p.q); err != nil {
			return err
		}
	}
	return nil
}

func (s *SQLite) Close() error {
	for _, st := range []*sql.Stmt{s.usage, s.state, s.admit} {
		st.Close()
	}
	return s.db.Close()
}

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(v int64) time.Time { return time.UnixMilli(v) }
func optTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

func (s *SQLite) usageOf(ctx context.Context, key string, now time.Time) (Usage, error) {
	var u Usage
	var oh, od sql.NullInt64
	err := s.usage.QueryRowContext(ctx, ms(now.Add(-Hour)), key, ms(now.Add(-Day))).
		Scan(&u.MessagesHour, &u.MessagesDay, &u.RecipientsHour, &u.RecipientsDay, &oh, &od)
	u.OldestHour, u.OldestDay = optTime(oh), optTime(od)
	return u, err
}

func (s *SQLite) Usage(ctx context.Context, key string, now time.Time) (Usage, *Suspension, error) {
	var u Usage
	var oh, od sql.NullInt64
	var js sql.NullString
	err := s.state.QueryRowContext(ctx, ms(now.Add(-Hour)), key, ms(now.Add(-Day))).
		Scan(&u.MessagesHour, &u.MessagesDay, &u.RecipientsHour, &u.RecipientsDay, &oh, &od, &js)
	u.OldestHour, u.OldestDay = optTime(oh), optTime(od)
	if err != nil || !js.Valid {
		return u, nil, err
	}
	var susp Suspension
	return u, &susp, json.Unmarshal([]byte(js.String), &susp)
}

func (s *SQLite) Admit(ctx context.Context, key string, m Sent, lim Limits, now time.Time) (Usage, bool, error) {
	r, err := s.admit.ExecContext(ctx, key, m.ID, ms(m.Time), len(m.Rcpts), ms(now.Add(-Hour)), ms(now.Add(-Day)),
		lim.MessagesPerHour, lim.MessagesPerDay, lim.RecipientsPerHour, lim.RecipientsPerDay, m.QueueID, strings.Join(m.Rcpts, "\n"))
	if err != nil {
		return Usage{}, false, err
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		// Refused (or already counted): the usage says which limit.
		u, uerr := s.usageOf(ctx, key, now)
		return u, false, errors.Join(err, uerr)
	}
	return Usage{}, true, nil
}

func (s *SQLite) AddUndeliverable(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, ev := range evs {
		js, _ := json.Marshal(ev)
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO undeliverable (key, id, t, ev) VALUES (?, ?, ?, ?)`, key, ev.ID, ms(ev.Time), string(js)); err != nil {
			return 0, err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM undeliverable WHERE key = ? AND t > ?`, key, ms(now.Add(-Hour))).Scan(&n); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

func (s *SQLite) Undeliverables(ctx context.Context, key string, since time.Time) ([]Undeliverable, error) {
	return queryJSON[Undeliverable](ctx, s.db, `SELECT ev FROM undeliverable WHERE key = ? AND t > ? ORDER BY t, id`, key, ms(since))
}

// queryJSON runs a query of one JSON column and decodes every row.
func queryJSON[T any](ctx context.Context, db *sql.DB, q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var js string
		var v T
		if err := rows.Scan(&js); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *SQLite) Suspend(ctx context.Context, susp Suspension) (bool, error) {
	js, _ := json.Marshal(susp)
	r, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO suspended (key, s) VALUES (?, ?)`, susp.Key, string(js))
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

func (s *SQLite) Unsuspend(ctx context.Context, key string) (bool, error) {
	r, err := s.db.ExecContext(ctx, `DELETE FROM suspended WHERE key = ?`, key)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

func (s *SQLite) Suspensions(ctx context.Context) ([]Suspension, error) {
	return queryJSON[Suspension](ctx, s.db, `SELECT s FROM suspended ORDER BY key`)
}

func (s *SQLite) Accounts(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM sent UNION SELECT key FROM undeliverable UNION SELECT key FROM suspended ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *SQLite) Owner(ctx context.Context, qid string) (string, []string, error) {
	var key, rcpts string
	err := s.db.QueryRowContext(ctx, `SELECT key, rcptlist FROM sent WHERE qid = ? AND qid != '' ORDER BY t DESC LIMIT 1`, qid).Scan(&key, &rcpts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	return key, strings.Split(rcpts, "\n"), err
}

func (s *SQLite) Purge(ctx context.Context, now time.Time) error {
	for q, before := range map[string]time.Time{
		// The window needs a day; the log follower a message's queue id for
		// as long as it can bounce.
		`DELETE FROM sent WHERE t <= ?`:          now.Add(-recordTTL),
		`DELETE FROM undeliverable WHERE t <= ?`: now.Add(-recordTTL),
	} {
		if _, err := s.db.ExecContext(ctx, q, ms(before)); err != nil {
			return err
		}
	}
	return nil
}

// Ping checks the database answers: a bare round trip, for benchmarks'
// baseline and health checks.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}
