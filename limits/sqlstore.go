package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"outguard/internal/sqldb"
)

// SQLStore keeps the limits in SQL: SQLite, the embedded store in
// state_dir, or PostgreSQL, shared by a fleet of smarthosts. Both run the
// same statements, written with PostgreSQL's $N parameters; a dialect has
// its schema, its way to version it, and its way to serialise the check and
// the count of one account (a transaction that takes the database's write
// lock, or a per-account lock).
type SQLStore struct {
	db               *sql.DB
	d                sqldb.Dialect
	state, bump, rec *sql.Stmt            // SQLite's per-message statements, prepared once
	stmts            map[string]*sql.Stmt // SQLite's campaign statements, prepared once (campaign.go)
	// server: a message's stages, and Sight, are calls of the server's
	// functions (PostgreSQL, stage.go), one round trip each.
	server bool
	// ksend: the senders kept per campaign key (campaigncap.go); 0 is
	// CampaignKeySenders.
	ksend int
}

// The counters are two rings per account: slots 0–59 hold the minute
// buckets (slot = minute mod 60), slots 100–123 the hour buckets (100 +
// hour mod 24), each row with the bucket it counts now. A row is reused when
// its slot comes round again, so an account never has more than 84 rows,
// and a check reads those, whatever it has sent.
const hourSlots = 100

// usageQuery sums the rows still in their window. $1 key, $2 first minute
// bucket, $3 first hour bucket.
const (
	usageQuery = `SELECT
		CAST(COALESCE(SUM(CASE WHEN slot < 100 AND b >= $2 THEN msgs END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN slot >= 100 AND b >= $3 THEN msgs END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN slot < 100 AND b >= $2 THEN rcpts END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN slot >= 100 AND b >= $3 THEN rcpts END), 0) AS BIGINT),
		COALESCE(MIN(CASE WHEN slot < 100 AND b >= $2 THEN b END), 0), COALESCE(MIN(CASE WHEN slot >= 100 AND b >= $3 THEN b END), 0)
		FROM counters WHERE key = $1`
	// bumpQuery counts a message in its minute's and its hour's slot:
	// added to the slot's bucket, or starting it afresh when the slot still
	// holds an older bucket. $1 key, $2 recipients, $3 minute slot, $4
	// minute, $5 hour slot, $6 hour.
	bumpQuery = `INSERT INTO counters (key, slot, b, msgs, rcpts) VALUES ($1, $3, $4, 1, $2), ($1, $5, $6, 1, $2)
		ON CONFLICT (key, slot) DO UPDATE SET
			msgs = CASE WHEN counters.b = excluded.b THEN counters.msgs + 1 ELSE 1 END,
			rcpts = CASE WHEN counters.b = excluded.b THEN counters.rcpts + excluded.rcpts ELSE excluded.rcpts END,
			b = excluded.b
		WHERE excluded.b >= counters.b`
	recordQuery = `INSERT INTO msgs (host, qid, key, t, rcpts) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (host, qid) DO UPDATE SET key = excluded.key, t = excluded.t, rcpts = excluded.rcpts`
	// stateQuery is usageQuery with the suspension: MAIL FROM's one statement.
	stateQuery = `SELECT u.*, (SELECT s FROM suspended WHERE key = $1) FROM (` + usageQuery + `) AS u`
)

func openSQL(ctx context.Context, db *sql.DB, d sqldb.Dialect, migrations map[int]string) (*SQLStore, error) {
	s := &SQLStore{db: db, d: d, server: d.Name == sqldb.Postgres.Name}
	if err := d.Migrate(ctx, db, "limits", schemaVersion, migrations); err != nil {
		return nil, err
	}
	if s.server {
		return s, nil
	}
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{{&s.state, stateQuery}, {&s.bump, bumpQuery}, {&s.rec, recordQuery}} {
		var err error
		if *p.dst, err = db.PrepareContext(ctx, d.Rebind(p.q)); err != nil {
			return nil, err
		}
	}
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range campaignStatements {
		st, err := db.PrepareContext(ctx, s.campaignSQL(q))
		if err != nil {
			return nil, err
		}
		s.stmts[q] = st
	}
	return s, nil
}

// exec and query run a statement written with $N parameters.
func (s *SQLStore) exec(ctx context.Context, x execer, q string, args ...any) (sql.Result, error) {
	return x.ExecContext(ctx, s.d.Rebind(q), args...)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *SQLStore) Close() error {
	for _, st := range []*sql.Stmt{s.state, s.bump, s.rec} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range s.stmts {
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

func (s *SQLStore) Usage(ctx context.Context, key string, now time.Time) (Usage, *Suspension, error) {
	u, susp, _, err := s.BeginMessage(ctx, key, nil, now)
	return u, susp, err
}

// suspension decodes a suspension's JSON column (NULL: none).
func suspension(js sql.NullString) (*Suspension, error) {
	if !js.Valid {
		return nil, nil
	}
	var susp Suspension
	return &susp, json.Unmarshal([]byte(js.String), &susp)
}

// locked begins a transaction that no other writer of account key enters
// until it ends: SQLite's IMMEDIATE transactions take the database's
// write lock, PostgreSQL takes the account's advisory lock (READ
// COMMITTED alone lets two hosts each miss the other's uncommitted rows).
// Every operation that counts and then compares (see Store) runs in one.
func (s *SQLStore) locked(ctx context.Context, key string) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if s.d.LockKey != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockKey, key); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// Admit checks and counts in one transaction, with no other writer of the
// account between the check and the count: one commit, and limits exact
// across every host that shares the store. A suspended account's message
// is not admitted.
func (s *SQLStore) Admit(ctx context.Context, key string, m Sent, lim Limits, now time.Time) (Usage, bool, error) {
	u, ok, _, _, err := s.CommitMessage(ctx, key, m, lim, nil, now)
	return u, ok, err
}

// admit is Admit's check and count in tx (SQLite's; PostgreSQL's is
// og_admit, recheck.go), with the account's suspension in the same read.
func (s *SQLStore) admit(ctx context.Context, tx *sql.Tx, key string, m Sent, lim Limits, now time.Time) (Usage, bool, *Suspension, error) {
	var js sql.NullString
	u, err := scanUsage(ctx, tx.StmtContext(ctx, s.state).QueryRowContext, key, now, &js)
	if err != nil {
		return Usage{}, false, nil, err
	}
	if susp, err := suspension(js); err != nil || susp.Active(now) {
		return u, false, susp, err
	}
	if lim.Check(u, 1, len(m.Rcpts)) != nil {
		return u, false, nil, nil
	}
	minute, hour := m.Time.Unix()/60, m.Time.Unix()/3600
	r, err := tx.StmtContext(ctx, s.bump).ExecContext(ctx, key, len(m.Rcpts), minute%hourBuckets, minute, hourSlots+hour%dayBuckets, hour)
	if err != nil {
		return Usage{}, false, nil, err
	}
	if n, err := r.RowsAffected(); err != nil {
		return Usage{}, false, nil, err
	} else if n < 2 { // the upsert's WHERE left a slot holding a later bucket alone
		return Usage{}, false, nil, skewError(fmt.Sprintf("account %s: minute %d or hour %d: a slot holds a later bucket", key, minute, hour))
	}
	if m.QueueID != "" {
		if _, err := tx.StmtContext(ctx, s.rec).ExecContext(ctx, m.Host, m.QueueID, key, ms(m.Time), strings.Join(m.Rcpts, "\n")); err != nil {
			return Usage{}, false, nil, err
		}
	}
	return Usage{}, true, nil, nil
}

// AddUndeliverable adds and counts under the account's lock: of two hosts
// adding at once, the second counts the first's events.
func (s *SQLStore) AddUndeliverable(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error) {
	return s.addEvents(ctx, "undeliverable", key, evs, now)
}

// AddRefused counts refused messages the same way.
func (s *SQLStore) AddRefused(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error) {
	return s.addEvents(ctx, "refused", key, evs, now)
}

// addEvents inserts evs into table (undeliverable or refused: the same
// layout) and counts the account's unacknowledged events of the last hour,
// holding the account's lock, as Admit: two smarthosts counting for one
// account see each other's events, and the crossing is seen once. On
// PostgreSQL one call of og_events (recheck.go); on SQLite one
// transaction under the database's write lock.
func (s *SQLStore) addEvents(ctx context.Context, table, key string, evs []Undeliverable, now time.Time) (int, error) {
	if s.server {
		ids, ts, js := make([]string, len(evs)), make([]int64, len(evs)), make([]string, len(evs))
		for i, ev := range evs {
			b, _ := json.Marshal(ev)
			ids[i], ts[i], js[i] = ev.ID, ms(ev.Time), string(b)
		}
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT og_events($1, $2, $3, $4, $5, $6)`, key, table == "refused", ids, ts, js, ms(now.Add(-Hour))).Scan(&n)
		return n, err
	}
	tx, err := s.locked(ctx, key)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, ev := range evs {
		js, _ := json.Marshal(ev)
		if _, err := s.exec(ctx, tx, `INSERT INTO `+table+` (key, id, t, ev) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, key, ev.ID, ms(ev.Time), string(js)); err != nil {
			return 0, err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM `+table+` WHERE key = $1 AND t > $2 AND t > COALESCE((SELECT t FROM acks WHERE key = $1), 0)`),
		key, ms(now.Add(-Hour))).Scan(&n); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

func (s *SQLStore) Refused(ctx context.Context, key string, since time.Time) ([]Undeliverable, error) {
	return queryJSON[Undeliverable](ctx, s.db, s.d.Rebind(`SELECT ev FROM refused WHERE key = $1 AND t > $2 ORDER BY t, id`), key, ms(since))
}

func (s *SQLStore) Acknowledged(ctx context.Context, key string) (time.Time, error) {
	var t int64
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT t FROM acks WHERE key = $1`), key).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromMS(t), err
}

func (s *SQLStore) Undeliverables(ctx context.Context, key string, since time.Time) ([]Undeliverable, error) {
	return queryJSON[Undeliverable](ctx, s.db, s.d.Rebind(`SELECT ev FROM undeliverable WHERE key = $1 AND t > $2 ORDER BY t, id`), key, ms(since))
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

func (s *SQLStore) Suspend(ctx context.Context, susp Suspension, now time.Time) (bool, error) {
	js, _ := json.Marshal(susp)
	var until int64
	if !susp.Until.IsZero() {
		until = ms(susp.Until)
	}
	// Under the account's lock, as CommitMessage's read of it: a
	// message's commit sees the suspension, or the suspension comes after
	// the message's record (which containment then finds).
	tx, err := s.locked(ctx, susp.Key)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	r, err := s.exec(ctx, tx, `INSERT INTO suspended (key, until, s) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET until = excluded.until, s = excluded.s WHERE suspended.until != 0 AND suspended.until <= $4`,
		susp.Key, until, string(js), ms(now))
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}

func (s *SQLStore) Unsuspend(ctx context.Context, key string, now time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	r, err := s.exec(ctx, tx, `DELETE FROM suspended WHERE key = $1`, key)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	if err := s.ack(ctx, tx, key, now); err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}

func (s *SQLStore) Reset(ctx context.Context, key string, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := s.exec(ctx, tx, `DELETE FROM counters WHERE key = $1`, key); err != nil {
		return err
	}
	if err := s.ack(ctx, tx, key, now); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *SQLStore) ack(ctx context.Context, tx *sql.Tx, key string, now time.Time) error {
	_, err := s.exec(ctx, tx, `INSERT INTO acks (key, t) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET t = excluded.t`, key, ms(now))
	return err
}

func (s *SQLStore) Suspensions(ctx context.Context) ([]Suspension, error) {
	return queryJSON[Suspension](ctx, s.db, `SELECT s FROM suspended ORDER BY key`)
}

func (s *SQLStore) Accounts(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM counters UNION SELECT key FROM undeliverable UNION SELECT key FROM refused UNION SELECT key FROM suspended UNION SELECT key FROM complaints WHERE key != '' ORDER BY 1`)
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

func (s *SQLStore) Queued(ctx context.Context, host, key string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT qid FROM msgs WHERE host = $1 AND key = $2 ORDER BY t, qid`), host, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

func (s *SQLStore) Owner(ctx context.Context, host, qid string) (string, []string, error) {
	var key, rcpts string
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT key, rcpts FROM msgs WHERE host = $1 AND qid = $2`), host, qid).Scan(&key, &rcpts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT rcpt FROM delivered WHERE host = $1 AND qid = $2`), host, qid)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var delivered []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return "", nil, err
		}
		delivered = append(delivered, r)
	}
	return key, pending(strings.Split(rcpts, "\n"), delivered), rows.Err()
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

// Delivered is one statement per 500 recipients (within SQLite's and
// PostgreSQL's limits on parameters), whatever the number of messages: the
// log follower records every delivery it reads, and on PostgreSQL a round
// trip per message would leave it behind a busy log.
func (s *SQLStore) Delivered(ctx context.Context, host string, delivered map[string][]string) error {
	type row struct{ qid, rcpt string }
	var rows []row
	for qid, rcpts := range delivered {
		for _, r := range rcpts {
			rows = append(rows, row{qid, r})
		}
	}
	now := ms(time.Now())
	for len(rows) > 0 {
		n := min(len(rows), 500)
		var q strings.Builder
		q.WriteString(`INSERT INTO delivered (host, qid, rcpt, t) VALUES `)
		args := []any{host, now}
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($1, $%d, $%d, $2)", 3+2*i, 4+2*i)
			args = append(args, r.qid, r.rcpt)
		}
		q.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := s.exec(ctx, s.db, q.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (s *SQLStore) Purge(ctx context.Context, now time.Time) error {
	fm, fh := windowStart(now)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		// Rows out of their window count nothing (an idle account's go);
		// the log follower needs a message's record for as long as it can
		// bounce; the abuse desk the evidence.
		{`DELETE FROM counters WHERE slot < 100 AND b < $1 OR slot >= 100 AND b < $2`, []any{fm, fh}},
		{`DELETE FROM msgs WHERE t <= $1`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM delivered WHERE t <= $1`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM undeliverable WHERE t <= $1`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM refused WHERE t <= $1`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM sightings WHERE t <= $1`, []any{ms(now.Add(-recordTTL))}},
		{`DELETE FROM complaints WHERE t <= $1`, []any{ms(now.Add(-complaintTTL))}},
		{`DELETE FROM once WHERE until <= $1`, []any{ms(now)}},
	} {
		if _, err := s.exec(ctx, s.db, q.sql, q.args...); err != nil {
			return err
		}
	}
	return s.purgeCampaigns(ctx, now)
}

// Ping checks the database answers: a bare round trip, for benchmarks'
// baseline and health checks.
func (s *SQLStore) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// sightingsSchema (version 3, both dialects) keeps what accounts were seen
// with (spread.go): a row per account, signal and distinct value, with
// when it was first and last seen (ms).
const sightingsSchema = `
CREATE TABLE IF NOT EXISTS sightings (key TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, t0 BIGINT NOT NULL, t BIGINT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (key, kind, value));
CREATE INDEX IF NOT EXISTS sightings_t ON sightings (t);
`

// Sight records and counts in one transaction that keeps every other
// writer of the account out (PostgreSQL's advisory lock, SQLite's write
// lock), as Admit does: of two hosts adding the values that cross a limit,
// the later sees both.
func (s *SQLStore) Sight(ctx context.Context, key string, ss []Sighting, now time.Time) (map[string]int, error) {
	if s.server {
		return s.pgSight(ctx, key, ss, now)
	}
	var n map[string]int
	err := s.inTx(ctx, key, func(tx *sql.Tx) (err error) {
		n, err = s.sight(ctx, tx, key, ss, now)
		return err
	})
	return n, err
}

// sight is Sight's record and count in tx (SQLite's; PostgreSQL's is
// og_sight, stage.go).
func (s *SQLStore) sight(ctx context.Context, tx *sql.Tx, key string, ss []Sighting, now time.Time) (map[string]int, error) {
	for _, x := range ss {
		if _, err := s.exec(ctx, tx, `INSERT INTO sightings (key, kind, value, t0, t, detail) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (key, kind, value) DO UPDATE SET t = excluded.t, detail = excluded.detail WHERE excluded.t >= sightings.t`,
			key, x.Signal, x.Value, ms(x.First), ms(x.Last), x.Detail); err != nil {
			return nil, err
		}
	}
	fm, _ := windowStart(now)
	rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT kind, COUNT(*) FROM sightings WHERE key = $1 AND t >= $2
		AND t > COALESCE((SELECT t FROM acks WHERE key = $1), 0) GROUP BY kind`), key, fm*60000)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := map[string]int{}
	for rows.Next() {
		var kind string
		var c int
		if err := rows.Scan(&kind, &c); err != nil {
			return nil, err
		}
		n[kind] = c
	}
	return n, rows.Err()
}

func (s *SQLStore) Sightings(ctx context.Context, key string, since time.Time) ([]Sighting, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT kind, value, t0, t, detail FROM sightings WHERE key = $1 AND t > $2 AND kind <> $3 ORDER BY t, kind, value`), key, ms(since), SightingAddress)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Sighting
	for rows.Next() {
		var x Sighting
		var first, last int64
		if err := rows.Scan(&x.Signal, &x.Value, &first, &last, &x.Detail); err != nil {
			return nil, err
		}
		x.First, x.Last = fromMS(first), fromMS(last)
		out = append(out, x)
	}
	return out, rows.Err()
}
