// Package quarantine keeps outbound messages that a check held: the exact
// bytes as received plus a record, durable on disk before milterd answers
// the MTA, for the security team to review, release or delete.
package quarantine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"

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
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	QueueID  string    `json:"queue_id"`
	User     string    `json:"user"`
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
	Started  time.Time `json:"started"`
	Lease    time.Time `json:"lease"`
}

// Store is the embedded quarantine: message files and a SQLite index in
// one directory (0700; files 0600).
type Store struct {
	dir string
	db  *sql.DB
	// The quota (SetQuota): what the entries on disk (not deleted or
	// purged) may take; 0: no bound. A Put over it fails with ErrFull.
	maxBytes, maxEntries atomic.Int64
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

// Stats returns the entries on disk and their bytes.
func (s *Store) Stats(ctx context.Context) (entries int, bytes int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(json_extract(rec, '$.size')), 0) FROM entries WHERE state != ?`, Deleted).Scan(&entries, &bytes)
	return entries, bytes, err
}

// Open opens (creating) the quarantine in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "msg"), 0o700); err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "index.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, t INTEGER NOT NULL, user TEXT NOT NULL, state TEXT NOT NULL, rec TEXT NOT NULL);
		CREATE INDEX IF NOT EXISTS entries_t ON entries (t)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("quarantine index: %w", err)
	}
	return &Store{dir: dir, db: db}, nil
}

func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the index answers and the message directory is there.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.dir, "msg")); err != nil {
		return err
	}
	return s.db.PingContext(ctx)
}

func (s *Store) path(id string) string { return filepath.Join(s.dir, "msg", id+".eml") }

// newID is sortable by time and unguessable.
func newID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Put stores msg with rec and returns the entry's id. When Put returns nil
// the message file and its directory entry are fsync'd and the index is
// committed: the caller may tell the MTA the message is taken.
func (s *Store) Put(ctx context.Context, rec Record, msg io.Reader) (string, error) {
	if maxBytes, maxEntries := s.Quota(); maxBytes > 0 || maxEntries > 0 {
		n, used, err := s.Stats(ctx)
		if err != nil {
			return "", fmt.Errorf("quarantine index: %w", err)
		}
		if maxEntries > 0 && int64(n) >= maxEntries || maxBytes > 0 && used+rec.Size > maxBytes {
			return "", fmt.Errorf("%w: %d entries, %d bytes (max_entries %d, max_bytes %d)", ErrFull, n, used, maxEntries, maxBytes)
		}
	}
	rec.ID = newID(rec.Time)
	rec.State = Held
	final := s.path(rec.ID)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("quarantine: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), msg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(filepath.Dir(final))
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("quarantine: writing %s: %w", rec.ID, err)
	}
	rec.Size, rec.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	js, _ := json.Marshal(rec)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO entries (id, t, user, state, rec) VALUES (?, ?, ?, ?, ?)`, rec.ID, rec.Time.UnixMilli(), rec.User, rec.State, string(js)); err != nil {
		os.Remove(final)
		return "", fmt.Errorf("quarantine index: %w", err)
	}
	return rec.ID, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrNotFound is returned for an unknown id.
var ErrNotFound = errors.New("no such quarantine entry")

// Get returns the record of id.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	var js string
	err := s.db.QueryRowContext(ctx, `SELECT rec FROM entries WHERE id = ?`, id).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Record{}, err
	}
	var rec Record
	return rec, json.Unmarshal([]byte(js), &rec)
}

// Open returns the message bytes of id, checked against the recorded size
// and SHA-256 as they are read: a damaged file is reported, not served.
func (s *Store) Message(ctx context.Context, id string) ([]byte, Record, error) {
	rec, err := s.Get(ctx, id)
	if err != nil {
		return nil, rec, err
	}
	if rec.State == Deleted {
		return nil, rec, fmt.Errorf("%s was deleted", id)
	}
	data, err := os.ReadFile(s.path(id))
	if err != nil {
		return nil, rec, fmt.Errorf("%s: message file: %w", id, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != rec.SHA256 {
		return nil, rec, fmt.Errorf("%s: message file is corrupt (SHA-256 differs from the record)", id)
	}
	return data, rec, nil
}

// Filter selects entries for List.
type Filter struct {
	User    string
	Reason  string // substring of the reason
	Finding string // a finding's name contains this (a rule, a signature)
	Since   time.Time
	State   string
}

// List returns matching records, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Record, error) {
	q := `SELECT rec FROM entries WHERE t >= ?`
	args := []any{f.Since.UnixMilli()}
	if f.User != "" {
		q += ` AND user = ?`
		args = append(args, f.User)
	}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY t DESC, id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var js string
		var rec Record
		if err := rows.Scan(&js); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(js), &rec); err != nil {
			return nil, err
		}
		if f.Reason != "" && !strings.Contains(strings.ToLower(rec.Reason), strings.ToLower(f.Reason)) {
			continue
		}
		if f.Finding != "" && !hasFinding(rec, f.Finding) {
			continue
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// SetState records a new state for id; Deleted also removes the file.
func (s *Store) SetState(ctx context.Context, id, state string) error {
	rec, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	rec.State = state
	js, _ := json.Marshal(rec)
	if _, err := s.db.ExecContext(ctx, `UPDATE entries SET state = ?, rec = ? WHERE id = ?`, state, string(js), id); err != nil {
		return err
	}
	if state == Deleted {
		if err := os.Remove(s.path(id)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// Purge removes the entries older than before (of user only, unless ""),
// files and records, and returns how many.
func (s *Store) Purge(ctx context.Context, before time.Time, user string) (int, error) {
	q, args := `SELECT id FROM entries WHERE t < ?`, []any{before.UnixMilli()}
	if user != "" {
		q, args = q+` AND user = ?`, append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if err := os.Remove(s.path(id)); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM entries WHERE id = ?`, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// Hold stores the message of t, held by verdict v: the milter calls it
// before answering the MTA.
func (s *Store) Hold(ctx context.Context, t *policy.Transaction, v policy.Verdict) (string, error) {
	client := t.Conn.Name
	if t.Conn.Addr.IsValid() {
		client += "[" + t.Conn.Addr.String() + "]"
	}
	rec := FromTransaction(t, v, client)
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
