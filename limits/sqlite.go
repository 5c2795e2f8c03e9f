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
	db                      *sql.DB
	usage, state, bump, rec *sql.Stmt // the per-message statements, prepared once
}

// schemaVersion is PRAGMA user_version. Version 1 kept one row per message
// in "sent" and summed an account's day on every check; version 2 keeps
// bucket counters (the per-message rows of version 1 are dropped: limits
// restart from zero once, at the upgrade).
const schemaVersion = 2

const schema = `
DROP TABLE IF EXISTS sent;
CREATE TABLE IF NOT EXISTS counters (key TEXT NOT NULL, slot INTEGER NOT NULL, b INTEGER NOT NULL, msgs INTEGER NOT NULL, rcpts INTEGER NOT NULL, PRIMARY KEY (key, slot)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS msgs (host TEXT NOT NULL, qid TEXT NOT NULL, key TEXT NOT NULL, t INTEGER NOT NULL, rcpts TEXT NOT NULL, PRIMARY KEY (host, qid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS msgs_t ON msgs (t);
CREATE TABLE IF NOT EXISTS delivered (host TEXT NOT NULL, qid TEXT NOT NULL, rcpt TEXT NOT NULL, t INTEGER NOT NULL, PRIMARY KEY (host, qid, rcpt)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_t ON delivered (t);
CREATE TABLE IF NOT EXISTS undeliverable (key TEXT NOT NULL, id TEXT NOT NULL, t INTEGER NOT NULL, ev TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS undeliverable_t ON undeliverable (key, t);
CREATE TABLE IF NOT EXISTS suspended (key TEXT PRIMARY KEY, until INTEGER NOT NULL, s TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (key TEXT PRIMARY KEY, t INTEGER NOT NULL);
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

// The counters are two rings per account: slots 0–59 hold the minute
// buckets (slot = minute mod 60), slots 100–123 the hour buckets (100 +
// hour mod 24), each row with the bucket it counts now. A row is reused when
// its slot comes round again, so an account never has more than 84 rows,
// and a check reads those, whatever it has sent.
const hourSlots = 100

// usageQuery sums the rows still in their window. ?1 key, ?2 first minute
// bucket, ?3 first hour bucket.
const (
	usageQuery = `SELECT
		COALESCE(SUM(CASE WHEN slot < 100 AND b >= ?2 THEN msgs END), 0), COALESCE(SUM(CASE WHEN slot >= 100 AND b >= ?3 THEN msgs END), 0),
		COALESCE(SUM(CASE WHEN slot < 100 AND b >= ?2 THEN rcpts END), 0), COALESCE(SUM(CASE WHEN slot >= 100 AND b >= ?3 THEN rcpts END), 0),
		COALESCE(MIN(CASE WHEN slot < 100 AND b >= ?2 THEN b END), 0), COALESCE(MIN(CASE WHEN slot >= 100 AND b >= ?3 THEN b END), 0)
		FROM counters WHERE key = ?1`
	// bumpQuery counts a message in its slot: added to the slot's bucket,
	// or starting it afresh when the slot still holds an older bucket.
	// ?1 key, ?2 slot, ?3 bucket, ?4 recipients.
	bumpQuery = `INSERT INTO counters (key, slot, b, msgs, rcpts) VALUES (?1, ?2, ?3, 1, ?4)
		ON CONFLICT (key, slot) DO UPDATE SET
			msgs = CASE WHEN b = excluded.b THEN msgs + 1 ELSE 1 END,
			rcpts = CASE WHEN b = excluded.b THEN rcpts + excluded.rcpts ELSE excluded.rcpts END,
			b = excluded.b
		WHERE excluded.b >= b`
	recordQuery = `INSERT OR REPLACE INTO msgs (host, qid, key, t, rcpts) VALUES (?, ?, ?, ?, ?)`
	// stateQuery is usageQuery with the suspension: MAIL FROM's one statement.
	stateQuery = `SELECT u.*, (SELECT s FROM suspended WHERE key = ?1) FROM (` + usageQuery + `) AS u`
)

func (s *SQLite) init() error {
	var v int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this milterd's %d", v, schemaVersion)
	}
	if v < schemaVersion {
		if _, err := s.db.Exec(schema + fmt.Sprintf("PRAGMA user_version = %d;", schemaVersion)); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{{&s.usage, usageQuery}, {&s.state, stateQuery}, {&s.bump, bumpQuery}, {&s.rec, recordQuery}} {
		var err error
		if *p.dst, err = s.db.Prepare(p.q); err != nil {
			return err
		}
	}
	return nil
}

func (s *SQLite) Close() error {
	for _, st := range []*sql.Stmt{s.usage, s.state, s.bump, s.rec} {
		st.Close()
	}
	return s.db.Close()
}

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(v int64) time.Time { return time.UnixMilli(v) }

// rowQuerier is a statement's QueryRowContext, in or out of a transaction.
type rowQuerier func(ctx context.Context, args ...any) *sql.Row

func scanUsage(ctx context.Context, q rowQuerier, key string, now time.Time, extra ...any) (Usage, error) {
	var n [6]int64
	fm, fh := windowStart(now)
	err := q(ctx, key, fm, fh).Scan(append([]any{&n[0], &n[1], &n[2], &n[3], &n[4], &n[5]}, extra...)...)
	return usageFrom(n[0], n[1], n[2], n[3], n[4], n[5]), err
}

func (s *SQLite) Usage(ctx context.Context, key string, now time.Time) (Usage, *Suspension, error) {
	var js sql.NullString
	u, err := scanUsage(ctx, s.state.QueryRowContext, key, now, &js)
	if err != nil || !js.Valid {
		return u, nil, err
	}
	var susp Suspension
	return u, &susp, json.Unmarshal([]byte(js.String), &susp)
}

// Admit checks and counts in one IMMEDIATE transaction: one WAL commit,
// and no other writer between the check and the count.
func (s *SQLite) Admit(ctx context.Context, key string, m Sent, lim Limits, now time.Time) (Usage, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Usage{}, false, err
	}
	defer tx.Rollback()
	u, err := scanUsage(ctx, tx.StmtContext(ctx, s.usage).QueryRowContext, key, now)
	if err != nil {
		return Usage{}, false, err
	}
	if lim.Check(u, 1, len(m.Rcpts)) != nil {
		return u, false, nil
	}
	minute, hour := m.Time.Unix()/60, m.Time.Unix()/3600
	bump := tx.StmtContext(ctx, s.bump)
	for _, b := range []struct{ slot, b int64 }{{minute % hourBuckets, minute}, {hourSlots + hour%dayBuckets, hour}} {
		if _, err := bump.ExecContext(ctx, key, b.slot, b.b, len(m.Rcpts)); err != nil {
			return Usage{}, false, err
		}
	}
	if m.QueueID != "" {
		if _, err := tx.StmtContext(ctx, s.rec).ExecContext(ctx, m.Host, m.QueueID, key, ms(m.Time), strings.Join(m.Rcpts, "\n")); err != nil {
			return Usage{}, false, err
		}
	}
	return Usage{}, true, tx.Commit()
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
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM undeliverable WHERE key = ?1 AND t > MAX(?2, COALESCE((SELECT t FROM acks WHERE key = ?1), 0))`,
		key, ms(now.Add(-Hour))).Scan(&n); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

func (s *SQLite) Acknowledged(ctx context.Context, key string) (time.Time, error) {
	var t int64
	err := s.db.QueryRowContext(ctx, `SELECT t FROM acks WHERE key = ?`, key).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromMS(t), err
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

func (s *SQLite) Suspend(ctx context.Context, susp Suspension, now time.Time) (bool, error) {
	js, _ := json.Marshal(susp)
	var until int64
	if !susp.Until.IsZero() {
		until = ms(susp.Until)
	}
	r, err := s.db.ExecContext(ctx, `INSERT INTO suspended (key, until, s) VALUES (?1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET until = ?2, s = ?3 WHERE suspended.until != 0 AND suspended.until <= ?4`,
		susp.Key, until, string(js), ms(now))
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

func (s *SQLite) Unsuspend(ctx context.Context, key string, now time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `DELETE FROM suspended WHERE key = ?`, key)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	if err := ack(ctx, tx, key, now); err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}

func (s *SQLite) Reset(ctx context.Context, key string, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM counters WHERE key = ?`, key); err != nil {
		return err
	}
	if err := ack(ctx, tx, key, now); err != nil {
		return err
	}
	return tx.Commit()
}

func ack(ctx context.Context, tx *sql.Tx, key string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO acks (key, t) VALUES (?, ?)`, key, ms(now))
	return err
}

func (s *SQLite) Suspensions(ctx context.Context) ([]Suspension, error) {
	return queryJSON[Suspension](ctx, s.db, `SELECT s FROM suspended ORDER BY key`)
}

func (s *SQLite) Accounts(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM counters UNION SELECT key FROM undeliverable UNION SELECT key FROM suspended ORDER BY 1`)
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

func (s *SQLite) Owner(ctx context.Context, host, qid string) (string, []string, error) {
	var key, rcpts string
	var delivered sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT key, rcpts, (SELECT group_concat(rcpt, char(10)) FROM delivered d WHERE d.host = m.host AND d.qid = m.qid)
		FROM msgs m WHERE host = ? AND qid = ?`, host, qid).Scan(&key, &rcpts, &delivered)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return key, pending(strings.Split(rcpts, "\n"), strings.Split(delivered.String, "\n")), nil
}

// pending returns the recipients not in delivered.
func pending(rcpts, delivered []string) []string {
	done := map[string]bool{}
	for _, d := range delivered {
		done[d] = true
	}
	out := rcpts[:0:0]
	for _, r := range rcpts {
		if !done[r] {
			out = append(out, r)
		}
	}
	return out
}

func (s *SQLite) Delivered(ctx context.Context, host, qid string, rcpts []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range rcpts {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO delivered (host, qid, rcpt, t) VALUES (?, ?, ?, ?)`, host, qid, r, ms(time.Now())); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *SQLite) Purge(ctx context.Context, now time.Time) error {
	fm, fh := windowStart(now)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		// Rows out of their window count nothing (an idle account's go);
		// the log follower needs a message's record for as long as it can
		// bounce; the abuse desk the evidence.
		{`DELETE FROM counters WHERE slot < 100 AND b < ? OR slot >= 100 AND b < ?`, []any{fm, fh}},
		{`DELETE FROM msgs WHERE t <= ?`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM delivered WHERE t <= ?`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM undeliverable WHERE t <= ?`, []any{ms(now.Add(-recordTTL))}},
	} {
		if _, err := s.db.ExecContext(ctx, q.sql, q.args...); err != nil {
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
