package quarantine

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"outguard/internal/sqldb"
)

// files keeps each message in dir/msg/ID.eml, written to a temporary name,
// fsync'd, renamed and the directory fsync'd before the record is.
type files struct{ dir string }

func (f files) path(id string) string { return filepath.Join(f.dir, "msg", id+".eml") }

func (files) inTx() bool { return false }

func (f files) write(_ context.Context, _ *sql.Tx, id string, msg io.Reader) (int64, string, error) {
	final := f.path(id)
	tmp := final + ".tmp"
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(file, h), msg)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
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
		os.Remove(final)
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func (f files) forget(id string) { os.Remove(f.path(id)) }

func (f files) open(_ context.Context, id string) (io.ReadCloser, error) { return os.Open(f.path(id)) }

func (f files) remove(_ context.Context, _ *sql.Tx, id string) (func() error, error) {
	return func() error {
		if err := os.Remove(f.path(id)); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}, nil
}

func (f files) ping(context.Context) error {
	_, err := os.Stat(filepath.Join(f.dir, "msg"))
	return err
}

// SweepOrphans removes the message files of the local quarantine that no
// entry holds: ID.eml.tmp (a crash while writing) and ID.eml without an
// entry, or of a deleted one (a crash between the file and its record, or
// between a deletion's record and the file). None of them was answered to
// the MTA as held, so the client was tempfailed and sends again: nothing
// is lost. Only files last written before before are removed, so that a
// Put in progress keeps its file; the younger ones are counted in Stats
// (the quota) until a later sweep. A quarantine on PostgreSQL writes
// message and record in one transaction and has none.
func (s *Store) SweepOrphans(ctx context.Context, before time.Time) (removed int, bytes int64, err error) {
	f, ok := s.body.(files)
	if !ok {
		return 0, 0, nil
	}
	kept := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT id FROM entries WHERE state != $1`), Deleted)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, 0, err
		}
		kept[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	dir := filepath.Join(f.dir, "msg")
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	var young int64
	var errs []error
	for _, de := range des {
		name := de.Name()
		id, isMsg := strings.CutSuffix(name, ".eml")
		if !strings.HasSuffix(name, ".eml.tmp") && (!isMsg || kept[id]) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // gone meanwhile
		}
		if !fi.ModTime().Before(before) {
			young += fi.Size()
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
			young += fi.Size()
			continue
		}
		removed++
		bytes += fi.Size()
	}
	s.orphans.Store(young)
	return removed, bytes, errors.Join(errs...)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// chunkSize bounds what a write or a read holds of a message: a 50 MiB
// message is 50 rows, never 50 MiB in memory.
const chunkSize = 1 << 20

// chunks keeps each message as rows of chunkSize bytes, written in the
// record's transaction: a message and its record commit together or not
// at all, whoever dies in between.
type chunks struct {
	db *sql.DB
	d  sqldb.Dialect
}

func (chunks) inTx() bool { return true }

func (c chunks) write(ctx context.Context, tx *sql.Tx, id string, msg io.Reader) (int64, string, error) {
	buf := make([]byte, chunkSize)
	h := sha256.New()
	var total int64
	for n := 0; ; n++ {
		k, err := io.ReadFull(msg, buf)
		if k > 0 {
			h.Write(buf[:k])
			total += int64(k)
			if _, err := tx.ExecContext(ctx, c.d.Rebind(`INSERT INTO chunks (id, n, data) VALUES ($1, $2, $3)`), id, n, buf[:k]); err != nil {
				return 0, "", err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return 0, "", err
		}
	}
}

func (chunks) forget(string) {} // rolled back with the record

func (c chunks) open(ctx context.Context, id string) (io.ReadCloser, error) {
	return &chunkReader{ctx: ctx, c: c, id: id}, nil
}

func (c chunks) remove(ctx context.Context, tx *sql.Tx, id string) (func() error, error) {
	_, err := tx.ExecContext(ctx, c.d.Rebind(`DELETE FROM chunks WHERE id = $1`), id)
	return func() error { return nil }, err
}

func (chunks) ping(context.Context) error { return nil }

// chunkReader reads a message a chunk at a time.
type chunkReader struct {
	ctx  context.Context
	c    chunks
	id   string
	n    int
	buf  []byte
	done bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		err := r.c.db.QueryRowContext(r.ctx, r.c.d.Rebind(`SELECT data FROM chunks WHERE id = $1 AND n = $2`), r.id, r.n).Scan(&r.buf)
		if errors.Is(err, sql.ErrNoRows) {
			r.done = true
			continue
		}
		if err != nil {
			return 0, err
		}
		r.n++
	}
	k := copy(p, r.buf)
	r.buf = r.buf[k:]
	return k, nil
}

func (r *chunkReader) Close() error { return nil }

// checked passes a message through, and at its end compares it with its
// record.
type checked struct {
	io.ReadCloser
	rec Record
	h   hash.Hash
	n   int64
}

func newChecked(r io.ReadCloser, rec Record) *checked {
	return &checked{ReadCloser: r, rec: rec, h: sha256.New()}
}

func (c *checked) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.h.Write(p[:k])
	c.n += int64(k)
	if err == io.EOF && (c.n != c.rec.Size || hex.EncodeToString(c.h.Sum(nil)) != c.rec.SHA256) {
		return k, fmt.Errorf("%s: message is corrupt (%d bytes read, %d recorded; SHA-256 differs from the record)", c.rec.ID, c.n, c.rec.Size)
	}
	return k, err
}
