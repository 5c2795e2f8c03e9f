// Package quarantine keeps outbound messages that a check held: the exact
// bytes as received plus a record, committed before milterd answers the
// MTA, for the security team to review, release or delete. The store is
// local (message files and a SQLite index in one directory) or shared by a
// fleet of smarthosts (PostgreSQL, the message in chunks in the same
// transaction as its record); both run the same statements.
package quarantine

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"outguard/internal/sqldb"
	"outguard/policy"
)

// States of an entry.
const (
	Held      = "held"
	Releasing = "releasing" // taken by a release: see Record.Release
	Released  = "released"
	Deleted   = "deleted"
)

// Finding is one reason a message was held: every engine's finding is in
// the record (records written before findings had detail keep engine and
// detail only).
type Finding = policy.Finding

// Record describes a quarantined message.
type Record struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host,omitempty"` // the smarthost that held it
	QueueID string    `json:"queue_id"`       // its MTA's queue id, on Host
	User    string    `json:"user"`
	// Account is the limits engine's account of the message (Holder): the
	// complaint reference stamped when it is released names it.
	Account  string    `json:"account,omitempty"`
	Client   string    `json:"client"`
	From     string    `json:"from"`
	Rcpts    []string  `json:"rcpts"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Reason   string    `json:"reason"`
	Findings []Finding `json:"findings"`
	State    string    `json:"state"`
	// Release is who took the entry to release it, and until when: a
	// releasing entry past its lease is a release that did not finish.
	Release *Claim `json:"release,omitempty"`
}

// Claim is a release in progress.
type Claim struct {
	Operator string    `json:"operator"`
	Host     string    `json:"host,omitempty"`
	Started  time.Time `json:"started"`
	Lease    time.Time `json:"lease"`
	// MessageID is the Message-ID the release carries (the message's own,
	// or one the release added): what to look for in the MTA's log.
	MessageID string `json:"message_id,omitempty"`
	// Outcome is set when the release ended without a definite reply
	// after the final dot: "unknown: why". The lease then ends too.
	Outcome string `json:"outcome,omitempty"`
	// To is where a release sent the message instead of its recipients
	// (milterctl quarantine release --to); empty: the original ones.
	To []string `json:"to,omitempty"`
}

// Store is a quarantine: records in SQL, messages in a body store.
type Store struct {
	db   *sql.DB
	d    sqldb.Dialect
	body bodies
	// Host names this smarthost on the records it holds and the audit
	// lines it writes.
	Host string
	// ReplyTimeout bounds each wait of a release for the MTA (0:
	// DefaultReplyTimeout): quarantine.release_timeout.
	ReplyTimeout time.Duration
	// Stamp, when set, stamps released mail (the complaints section).
	Stamp Stamper
	// The quota (SetQuota): what the entries kept (not deleted or purged)
	// may take; 0: no bound. A Put over it fails with ErrFull.
	maxBytes, maxEntries atomic.Int64
	// orphans is the bytes of message files without an entry that the
	// last SweepOrphans found too young to remove: on disk all the same,
	// so counted against the quota until a sweep removes them.
	orphans atomic.Int64
}

// bodies keep the message bytes of entries.
type bodies interface {
	// inTx: the bytes are written in the record's transaction (rows);
	// otherwise before it (a file, durable before the record exists).
	inTx() bool
	// write stores msg as id's message and returns its size and SHA-256.
	write(ctx context.Context, tx *sql.Tx, id string, msg io.Reader) (int64, string, error)
	// forget undoes a write whose record was not committed.
	forget(id string)
	// open reads id's message.
	open(ctx context.Context, id string) (io.ReadCloser, error)
	// remove drops id's message with its record, in tx; the returned
	// function runs after the commit.
	remove(ctx context.Context, tx *sql.Tx, id string) (after func() error, err error)
	ping(ctx context.Context) error
}

func open(ctx context.Context, db *sql.DB, d sqldb.Dialect, migrations map[int]string, body bodies) (*Store, error) {
	if err := d.Migrate(ctx, db, "quarantine", schemaVersion, migrations); err != nil {
		return nil, fmt.Errorf("quarantine index: %w", err)
	}
	return &Store{db: db, d: d, body: body}, nil
}

func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the index answers and the messages can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.body.ping(ctx); err != nil {
		return err
	}
	return s.db.PingContext(ctx)
}

func (s *Store) exec(ctx context.Context, x execer, q string, args ...any) (sql.Result, error) {
	return x.ExecContext(ctx, s.d.Rebind(q), args...)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// SetQuota bounds the quarantine: at start, and at every reload.
func (s *Store) SetQuota(bytes, entries int64) {
	s.maxBytes.Store(bytes)
	s.maxEntries.Store(entries)
}

// Quota returns the bounds SetQuota set.
func (s *Store) Quota() (bytes, entries int64) { return s.maxBytes.Load(), s.maxEntries.Load() }

// ErrFull: the quarantine is at its quota; the message was not taken.
var ErrFull = policy.ErrQuarantineFull

// Stats returns the entries kept and their bytes: the quota's running
// total, kept in each entry's transaction (one row: no scan).
func (s *Store) Stats(ctx context.Context) (entries int, bytes int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT entries, bytes FROM quota`).Scan(&entries, &bytes)
	return entries, bytes + s.orphans.Load(), err
}

// newID is sortable by time and unguessable.
func newID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Put stores msg with rec and returns the entry's id. When Put returns nil
// the message and its record are committed (a file fsync'd with its
// directory before the index's commit, or rows in the record's
// transaction): the caller may tell the MTA the message is taken.
//
// The quota is taken in the same transaction, from a running total (one
// row that every hold and removal updates): of concurrent holds, on one
// host or a fleet's, no more than the quota commit.
func (s *Store) Put(ctx context.Context, rec Record, msg io.Reader) (string, error) {
	rec.ID = newID(rec.Time)
	rec.State = Held
	if rec.Host == "" {
		rec.Host = s.Host
	}
	rec.SHA256 = ""
	maxBytes, maxEntries := s.Quota()
	if maxBytes > 0 { // orphan files not yet swept take room too
		if maxBytes -= s.orphans.Load(); maxBytes < 1 {
			return "", fmt.Errorf("%w: %d bytes of orphan message files (max_bytes %d)", ErrFull, s.orphans.Load(), maxBytes+s.orphans.Load())
		}
	}
	return rec.ID, s.insert(ctx, rec, msg, maxBytes, maxEntries)
}

// insert writes rec and its message msg in one transaction, counted in the
// quota's total (over maxBytes or maxEntries, when not 0: ErrFull). A
// record that has a SHA-256 already (a migrated entry) must match the
// message read; a nil msg is a deleted entry's, which has none.
func (s *Store) insert(ctx context.Context, rec Record, msg io.Reader, maxBytes, maxEntries int64) (err error) {
	var tx *sql.Tx
	if msg != nil && s.body.inTx() {
		if tx, err = s.db.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("quarantine index: %w", err)
		}
		defer tx.Rollback()
		if err := s.commitBy(ctx, tx); err != nil {
			return fmt.Errorf("quarantine index: %w", err)
		}
	}
	if msg != nil {
		n, sum, werr := s.body.write(ctx, tx, rec.ID, msg)
		if werr != nil {
			return fmt.Errorf("quarantine: writing %s: %w", rec.ID, werr)
		}
		defer func() {
			if err != nil {
				s.body.forget(rec.ID)
			}
		}()
		if rec.SHA256 != "" && (n != rec.Size || sum != rec.SHA256) {
			return fmt.Errorf("%s: the message read (%d bytes) differs from its record (%d bytes, SHA-256 %s)", rec.ID, n, rec.Size, rec.SHA256)
		}
		rec.Size, rec.SHA256 = n, sum
	}
	return s.insertRecord(ctx, tx, rec, maxBytes, maxEntries)
}

// commitBy makes PostgreSQL refuse to commit tx after ctx's deadline (the
// trigger of schema version 3). Without it a COMMIT sent just before the
// deadline to a server that stalled (stopped, a lost network) commits
// when the server wakes: an entry for a message whose session has ended,
// that the MTA was told to retry: held twice. The deadline is the server's
// clock plus what is left of ctx's, so the clocks need not agree.
func (s *Store) commitBy(ctx context.Context, tx *sql.Tx) error {
	dl, ok := ctx.Deadline()
	if !ok || s.d.Name != "postgres" {
		return nil // SQLite commits in this process, within ctx
	}
	_, err := tx.ExecContext(ctx, `SELECT set_config('outguard.commit_by', (FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) + $1)::bigint::text, true)`,
		time.Until(dl).Milliseconds())
	return err
}

// insertRecord inserts rec, counted in the quota, and commits tx (nil: a
// transaction of its own).
func (s *Store) insertRecord(ctx context.Context, tx *sql.Tx, rec Record, maxBytes, maxEntries int64) (err error) {
	if tx == nil {
		if tx, err = s.db.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("quarantine index: %w", err)
		}
	}
	defer tx.Rollback()
	if rec.State != Deleted {
		r, err := s.exec(ctx, tx, `UPDATE quota SET entries = entries + CAST(1 AS BIGINT), bytes = bytes + CAST($1 AS BIGINT)
			WHERE (CAST($2 AS BIGINT) = 0 OR entries < CAST($2 AS BIGINT)) AND (CAST($3 AS BIGINT) = 0 OR bytes + CAST($1 AS BIGINT) <= CAST($3 AS BIGINT))`,
			rec.Size, maxEntries, maxBytes)
		if err != nil {
			return fmt.Errorf("quarantine index: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			var entries, used int64 // read in tx: the local index has one connection
			tx.QueryRowContext(ctx, `SELECT entries, bytes FROM quota`).Scan(&entries, &used)
			return fmt.Errorf("%w: %d entries, %d bytes (max_entries %d, max_bytes %d)", ErrFull, entries, used, maxEntries, maxBytes)
		}
	}
	var claim any
	if rec.Release != nil {
		js, _ := json.Marshal(rec.Release)
		claim = string(js)
	}
	stored := rec // state and claim are the columns' alone
	stored.State, stored.Release = "", nil
	js, _ := json.Marshal(stored)
	if _, err = s.exec(ctx, tx, `INSERT INTO entries (id, t, account, state, size, claim, host, rec) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		rec.ID, rec.Time.UnixMilli(), rec.User, rec.State, rec.Size, claim, rec.Host, string(js)); err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("quarantine index: %w", err)
	}
	return nil
}

// ErrNotFound is returned for an unknown id.
var ErrNotFound = errors.New("no such quarantine entry")

// The record is the JSON of what does not change; state and claim are
// columns, so that a state change is one portable UPDATE.
const recordColumns = `rec, state, claim`

func scanRecord(row interface{ Scan(...any) error }) (Record, error) {
	var js, state string
	var claim sql.NullString
	if err := row.Scan(&js, &state, &claim); err != nil {
		return Record{}, err
	}
	var rec Record
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		return rec, err
	}
	rec.State, rec.Release = state, nil
	if claim.Valid {
		rec.Release = &Claim{}
		if err := json.Unmarshal([]byte(claim.String), rec.Release); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// Get returns the record of id.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	rec, err := scanRecord(s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT `+recordColumns+` FROM entries WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	return rec, err
}

// Reader returns a reader of id's message, checked against the recorded
// size and SHA-256 as it is read: a damaged message is an error at its
// end, not served as good.
func (s *Store) Reader(ctx context.Context, id string) (io.ReadCloser, Record, error) {
	rec, err := s.Get(ctx, id)
	if err != nil {
		return nil, rec, err
	}
	if rec.State == Deleted {
		return nil, rec, fmt.Errorf("%s was deleted", id)
	}
	r, err := s.body.open(ctx, id)
	if err != nil {
		return nil, rec, fmt.Errorf("%s: message: %w", id, err)
	}
	return newChecked(r, rec), rec, nil
}

// Message returns the whole message of id, checked (see Reader).
func (s *Store) Message(ctx context.Context, id string) ([]byte, Record, error) {
	r, rec, err := s.Reader(ctx, id)
	if err != nil {
		return nil, rec, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return data, rec, err
}

// Filter selects entries for List and Count.
type Filter struct {
	User    string
	Reason  string // substring of the reason
	Finding string // a finding's name contains this (a rule, a signature)
	Since   time.Time
	Until   time.Time // entries before it; zero: no end
	State   string
	// Limit is how many records List returns at most, the newest; 0: all.
	// List reads no further: a console page costs a page, not the
	// quarantine.
	Limit int
}

// query selects f's entries, newest first, with what SQL can filter;
// Reason and Finding are in the record's JSON and checked by match.
func (f Filter) query(columns string) (string, []any) {
	q := `SELECT ` + columns + ` FROM entries WHERE t >= $1`
	args := []any{f.Since.UnixMilli()}
	if !f.Until.IsZero() {
		args = append(args, f.Until.UnixMilli())
		q += fmt.Sprintf(` AND t < $%d`, len(args))
	}
	if f.User != "" {
		args = append(args, f.User)
		q += fmt.Sprintf(` AND account = $%d`, len(args))
	}
	if f.State != "" {
		args = append(args, f.State)
		q += fmt.Sprintf(` AND state = $%d`, len(args))
	}
	return q, args
}

// match checks the filters SQL cannot.
func (f Filter) match(rec Record) bool {
	return (f.Reason == "" || strings.Contains(strings.ToLower(rec.Reason), strings.ToLower(f.Reason))) &&
		(f.Finding == "" || hasFinding(rec, f.Finding))
}

// List returns matching records, newest first, at most f.Limit of them.
func (s *Store) List(ctx context.Context, f Filter) ([]Record, error) {
	var out []Record
	err := s.scan(ctx, f, func(rec Record) bool {
		out = append(out, rec)
		return f.Limit == 0 || len(out) < f.Limit
	})
	return out, err
}

// Count is how many records match f (f.Limit aside), keeping none: SQL
// counts them unless Reason or Finding must be read from the records.
func (s *Store) Count(ctx context.Context, f Filter) (int, error) {
	if f.Reason == "" && f.Finding == "" {
		q, args := f.query(`COUNT(*)`)
		var n int
		err := s.db.QueryRowContext(ctx, s.d.Rebind(q), args...).Scan(&n)
		return n, err
	}
	n := 0
	f.Limit = 0
	err := s.scan(ctx, f, func(Record) bool { n++; return true })
	return n, err
}

// scan calls each with f's records, newest first, until it returns false.
// With a Limit and only filters SQL applies, SQL stops at it: stopping
// early here is not enough, since closing a PostgreSQL result (pgx) reads
// the rest of it off the connection.
func (s *Store) scan(ctx context.Context, f Filter, each func(Record) bool) error {
	q, args := f.query(recordColumns)
	q += ` ORDER BY t DESC, id DESC`
	if f.Limit > 0 && f.Reason == "" && f.Finding == "" {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return err
		}
		if f.match(rec) && !each(rec) {
			return nil
		}
	}
	return rows.Err()
}

// Delete marks id deleted and drops its message; the record stays.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return s.drop(ctx, id, `UPDATE entries SET state = $2 WHERE id = $1 AND state != $2 RETURNING size`, Deleted)
}

// drop runs stmt on id's record and removes its message, in one
// transaction. stmt returns the size the entry took in the quota (no row,
// or -1: it took none, being deleted already); the quota's total goes
// down by it. The row's lock, taken by stmt, keeps two removals of one
// entry from both counting it.
func (s *Store) drop(ctx context.Context, id, stmt string, args ...any) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	size := int64(-1)
	if err := tx.QueryRowContext(ctx, s.d.Rebind(stmt), append([]any{id}, args...)...).Scan(&size); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if size >= 0 {
		if _, err := s.exec(ctx, tx, `UPDATE quota SET entries = entries - 1, bytes = bytes - CAST($1 AS BIGINT)`, size); err != nil {
			return err
		}
	}
	after, err := s.body.remove(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return after()
}

// Purge removes the entries older than before (of user only, unless ""),
// messages and records, and returns how many.
func (s *Store) Purge(ctx context.Context, before time.Time, user string) (int, error) {
	q, args := `SELECT id FROM entries WHERE t < $1`, []any{before.UnixMilli()}
	if user != "" {
		q, args = q+` AND account = $2`, append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := s.drop(ctx, id, `DELETE FROM entries WHERE id = $1 RETURNING CASE WHEN state != $2 THEN size ELSE -1 END`, Deleted); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// Hold stores the message of t, held by verdict v: the milter calls it
// before answering the MTA.
func (s *Store) Hold(ctx context.Context, t *policy.Transaction, v policy.Verdict) (string, error) {
	return s.hold(ctx, t, v, "")
}

// hold is Hold, recording the message's account (Holder).
func (s *Store) hold(ctx context.Context, t *policy.Transaction, v policy.Verdict, account string) (string, error) {
	client := t.Conn.Name
	if t.Conn.Addr.IsValid() {
		client += "[" + t.Conn.Addr.String() + "]"
	}
	rec := FromTransaction(t, v, client)
	rec.Account = account
	rec.Size = t.Message.Size() // for the quota; Put records what it wrote
	return s.Put(ctx, rec, t.Reader())
}

func hasFinding(rec Record, name string) bool {
	for _, f := range rec.Findings {
		if strings.Contains(strings.ToLower(f.Name), strings.ToLower(name)) {
			return true
		}
	}
	return false
}
