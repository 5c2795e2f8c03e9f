package quarantine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
	"outguard/quarantine"
)

// stores are the two kinds, on a real PostgreSQL.
func stores(t *testing.T) map[string]*quarantine.Store {
	local, err := quarantine.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	pg, err := quarantine.OpenPostgres(context.Background(), harness.StartPostgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	local.Host, pg.Host = "mx1", "mx1"
	return map[string]*quarantine.Store{"local": local, "postgres": pg}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t *testing.T, s *quarantine.Store, user string, msg []byte) string {
	t.Helper()
	id, err := s.Put(context.Background(), quarantine.Record{Time: time.Now(), User: user, From: user + "@customer.test", Rcpts: []string{"v@remote.test"},
		Reason: "test", Findings: []policy.Finding{{Engine: "rules", Name: "r:kit", Action: "quarantine", Part: "1"}}}, bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return id
}

// The same contract on both stores: what is put comes back byte for byte
// (a message of several chunks too), filtered, counted, deleted, purged.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for kind, s := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			big := random(3<<20 + 123)
			a := put(t, s, "alice", []byte("Subject: a\r\n\r\nhello\r\n"))
			b := put(t, s, "bob", big)
			e := put(t, s, "bob", nil)
			data, rec, err := s.Message(ctx, b)
			if err != nil || !bytes.Equal(data, big) || rec.Size != int64(len(big)) || rec.Host != "mx1" || rec.State != quarantine.Held || len(rec.Findings) != 1 {
				t.Fatalf("message b: %d bytes, %+v, %v", len(data), rec, err)
			}
			if data, _, err := s.Message(ctx, e); err != nil || len(data) != 0 {
				t.Errorf("empty message: %q %v", data, err)
			}
			if recs, err := s.List(ctx, quarantine.Filter{User: "bob"}); err != nil || len(recs) != 2 {
				t.Errorf("list bob: %d %v", len(recs), err)
			}
			if recs, _ := s.List(ctx, quarantine.Filter{Finding: "KIT", State: quarantine.Held}); len(recs) != 3 {
				t.Errorf("list by finding: %d", len(recs))
			}
			if n, bytes, err := s.Stats(ctx); n != 3 || bytes != int64(len(big))+21 || err != nil {
				t.Errorf("stats %d %d %v", n, bytes, err)
			}
			if err := s.Delete(ctx, b); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Message(ctx, b); err == nil || !strings.Contains(err.Error(), "was deleted") {
				t.Errorf("message of a deleted entry: %v", err)
			}
			if n, bytes, _ := s.Stats(ctx); n != 2 || bytes != 21 {
				t.Errorf("stats after delete %d %d", n, bytes)
			}
			if _, err := s.Get(ctx, "nope"); !errors.Is(err, quarantine.ErrNotFound) {
				t.Errorf("unknown id: %v", err)
			}
			s.SetQuota(0, 2)
			if _, err := s.Put(ctx, quarantine.Record{Time: time.Now()}, strings.NewReader("x")); !errors.Is(err, quarantine.ErrFull) {
				t.Errorf("over max_entries: %v", err)
			}
			s.SetQuota(0, 0)
			if n, err := s.Purge(ctx, time.Now().Add(time.Minute), "alice"); n != 1 || err != nil {
				t.Errorf("purge alice: %d %v", n, err)
			}
			if _, err := s.Get(ctx, a); !errors.Is(err, quarantine.ErrNotFound) {
				t.Errorf("purged entry: %v", err)
			}
			if err := s.Audit(ctx, "carol", "delete", b, "deleted"); err != nil {
				t.Fatal(err)
			}
			if log, err := s.AuditLog(ctx, time.Time{}, b); err != nil || len(log) != 1 || log[0].Host != "mx1" || log[0].Operator != "carol" {
				t.Errorf("audit %+v %v", log, err)
			}
		})
	}
}

// A message damaged in the store is not served as good: reading it ends
// in an error.
func TestCorruptChunk(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	s, err := quarantine.OpenPostgres(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := put(t, s, "alice", random(2<<20))
	pg.SQL("postgres", fmt.Sprintf(`UPDATE chunks SET data = 'tampered' WHERE id = '%s' AND n = 1`, id))
	if _, _, err := s.Message(context.Background(), id); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("tampered chunk: %v", err)
	}
}

// A local quarantine written by the previous version (the whole record as
// JSON, a "user" column) opens as version 2 with its entries as they were,
// a release in progress included.
func TestUpgradeLocalIndex(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "msg"), 0o700)
	db, err := sql.Open("sqlite", filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"id":"20260101T100000-00000001","time":"2026-01-01T10:00:00Z","queue_id":"4Q","user":"alice","client":"c","from":"a@c.test","rcpts":["v@r.test"],"size":5,"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","reason":"kit","findings":null,"state":"releasing","release":{"operator":"bob","started":"2026-01-01T10:00:00Z","lease":"2026-01-01T10:05:00Z"}}`
	if _, err := db.Exec(`CREATE TABLE entries (id TEXT PRIMARY KEY, t INTEGER NOT NULL, user TEXT NOT NULL, state TEXT NOT NULL, rec TEXT NOT NULL);
		CREATE INDEX entries_t ON entries (t);
		INSERT INTO entries VALUES ('20260101T100000-00000001', 1767261600000, 'alice', 'releasing', ?)`, rec); err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.WriteFile(filepath.Join(dir, "msg", "20260101T100000-00000001.eml"), []byte("hello"), 0o600)
	s, err := quarantine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	got, err := s.Get(ctx, "20260101T100000-00000001")
	if err != nil || got.State != quarantine.Releasing || got.Release == nil || got.Release.Operator != "bob" || got.User != "alice" {
		t.Fatalf("upgraded record %+v %v", got, err)
	}
	if recs, _ := s.List(ctx, quarantine.Filter{User: "alice"}); len(recs) != 1 {
		t.Errorf("list by user after the upgrade: %d", len(recs))
	}
	if n, b, _ := s.Stats(ctx); n != 1 || b != 5 {
		t.Errorf("stats after the upgrade: %d %d (the size column is filled from the record)", n, b)
	}
	if err := s.Resolve(ctx, got.ID, quarantine.Held, ""); err != nil {
		t.Fatal(err)
	}
	if data, _, err := s.Message(ctx, got.ID); err != nil || string(data) != "hello" {
		t.Errorf("message after the upgrade: %q %v", data, err)
	}
}

// zeros is an n-byte message that is never in memory whole.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := int64(len(p))
	if k > z.n {
		k = z.n
	}
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// peakHeap runs f and returns the most heap in use while it ran, above
// what was in use before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// A 50 MiB message goes to PostgreSQL a chunk at a time: the heap it takes
// is a few chunks, as for a 5 MiB one.
func TestPostgresWriteMemoryIsFlat(t *testing.T) {
	s, err := quarantine.OpenPostgres(context.Background(), harness.StartPostgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(n int64) uint64 {
		return peakHeap(func() {
			if _, err := s.Put(context.Background(), quarantine.Record{Time: time.Now()}, &zeros{n}); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, big := write(5<<20), write(50<<20)
	t.Logf("peak heap above the start: 5 MiB message %.1f MiB, 50 MiB message %.1f MiB", float64(small)/(1<<20), float64(big)/(1<<20))
	if big > 16<<20 {
		t.Errorf("writing 50 MiB took %.1f MiB of heap: the message is held whole", float64(big)/(1<<20))
	}
}

// Migration copies a host's local entries into the shared store with their
// ids, records and states; an entry that cannot be copied (its file is
// damaged) fails alone, and a second run copies it once fixed and skips
// the rest.
func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	local, err := quarantine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	local.Host = "mx1"
	shared, err := quarantine.OpenPostgres(ctx, harness.StartPostgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	held := put(t, local, "alice", random(1500<<10))
	released := put(t, local, "bob", []byte("released\r\n"))
	deleted := put(t, local, "bob", []byte("deleted\r\n"))
	damaged := put(t, local, "carol", []byte("good bytes\r\n"))
	db, _ := sql.Open("sqlite", filepath.Join(dir, "index.db"))
	db.Exec(`UPDATE entries SET state = 'released' WHERE id = ?`, released)
	db.Close()
	if err := local.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "msg", damaged+".eml")
	os.WriteFile(path, []byte("bad bytes!!\r\n"), 0o600)

	var lines []string
	each := func(m quarantine.Migrated) { lines = append(lines, m.ID+": "+m.Outcome) }
	n, err := quarantine.Migrate(ctx, local, shared, "root", each)
	if n != 3 || err == nil || !strings.Contains(err.Error(), "1 of 4 entries not migrated") {
		t.Fatalf("first run: %d copied, %v\n%s", n, err, strings.Join(lines, "\n"))
	}
	if _, err := shared.Get(ctx, damaged); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("the damaged entry is in the shared store, partly: %v", err)
	}
	os.WriteFile(path, []byte("good bytes\r\n"), 0o600)
	lines = nil
	if n, err := quarantine.Migrate(ctx, local, shared, "root", each); n != 1 || err != nil || strings.Count(strings.Join(lines, "\n"), "already there") != 3 {
		t.Fatalf("second run: %d copied, %v\n%s", n, err, strings.Join(lines, "\n"))
	}
	for _, id := range []string{held, released, deleted, damaged} {
		want, _ := local.Get(ctx, id)
		got, err := shared.Get(ctx, id)
		if err != nil || got.State != want.State || got.SHA256 != want.SHA256 || got.Size != want.Size || got.User != want.User || got.Host != "mx1" || len(got.Findings) != 1 {
			t.Errorf("%s migrated as %+v (%v), was %+v", id, got, err, want)
		}
		if want.State == quarantine.Deleted {
			continue
		}
		a, _, _ := local.Message(ctx, id)
		if b, _, err := shared.Message(ctx, id); err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: message differs after migration (%v)", id, err)
		}
	}
	if log, _ := shared.AuditLog(ctx, time.Time{}, ""); len(log) != 4 || log[0].Action != "migrate" || log[0].Operator != "root" {
		t.Errorf("audit of the migration: %+v", log)
	}
}

// The roles and grants of docs/postgres.md: milterd owns the quarantine's
// tables; a reviewer lists, reads, releases (claims), deletes and audits,
// and cannot hold messages.
func TestPostgresQuarantineGrants(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	milterd := pg.Database("outguard", "milterd", "secteam")
	ctx := context.Background()
	m, err := quarantine.OpenPostgres(ctx, milterd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := put(t, m, "alice", []byte("a\r\n"))
	b := put(t, m, "alice", []byte("b\r\n"))
	// As in docs/postgres.md.
	pg.SQL("outguard", `GRANT SELECT, DELETE ON entries TO secteam;
		GRANT UPDATE (state, claim) ON entries TO secteam;
		GRANT SELECT, DELETE ON chunks TO secteam;
		GRANT SELECT, UPDATE ON quota TO secteam;
		GRANT SELECT, INSERT ON audit TO secteam;
		GRANT SELECT ON schema_version TO secteam;`)
	r, err := quarantine.OpenPostgres(ctx, pg.DSNFor("secteam", "outguard"))
	if err != nil {
		t.Fatalf("reviewer open: %v", err)
	}
	defer r.Close()
	if recs, err := r.List(ctx, quarantine.Filter{}); err != nil || len(recs) != 2 {
		t.Fatalf("reviewer list: %d %v", len(recs), err)
	}
	if data, _, err := r.Message(ctx, a); err != nil || string(data) != "a\r\n" {
		t.Errorf("reviewer read: %q %v", data, err)
	}
	// A release to an address where nothing listens: claimed, then put
	// back to held, both by the reviewer's UPDATE grant.
	if _, err := r.Release(ctx, a, "127.0.0.1:1", "secteam", nil); err == nil || strings.Contains(err.Error(), "permission denied") {
		t.Errorf("reviewer release: %v", err)
	}
	if rec, _ := r.Get(ctx, a); rec.State != quarantine.Held {
		t.Errorf("after a failed release: %s", rec.State)
	}
	if err := r.Delete(ctx, b); err != nil {
		t.Errorf("reviewer delete: %v", err)
	}
	if n, err := r.Purge(ctx, time.Now().Add(time.Minute), ""); n != 2 || err != nil {
		t.Errorf("reviewer purge: %d %v", n, err)
	}
	if err := r.Audit(ctx, "secteam", "delete", b, "deleted"); err != nil {
		t.Errorf("reviewer audit: %v", err)
	}
	if _, err := r.Put(ctx, quarantine.Record{Time: time.Now()}, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the reviewer's role held a message: %v", err)
	}
}

// The smarthosts' role of docs/postgres.md when the DBA keeps the schema:
// row rights only. Once the owner has created the tables, it opens both
// stores (nothing to migrate), counts a message, holds one, purges and
// audits; it cannot change the schema.
func TestPostgresRowRightsOnly(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	milterd := pg.Database("outguard", "milterd", "smarthost")
	ctx := context.Background()
	for _, open := range []func() (io.Closer, error){
		func() (io.Closer, error) { return quarantine.OpenPostgres(ctx, milterd) },
		func() (io.Closer, error) { return limits.OpenPostgres(ctx, milterd) },
	} {
		c, err := open()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// As in docs/postgres.md.
	pg.SQL("outguard", `GRANT SELECT ON schema_version TO smarthost;
		GRANT SELECT, INSERT, UPDATE, DELETE ON counters, msgs, delivered, undeliverable, suspended, acks, sightings TO smarthost;
		GRANT SELECT, INSERT, DELETE ON entries, chunks TO smarthost;
		GRANT SELECT, UPDATE ON quota TO smarthost;
		GRANT UPDATE ON entries TO smarthost;
		GRANT SELECT, INSERT ON audit TO smarthost;`)
	dsn := pg.DSNFor("smarthost", "outguard")
	q, err := quarantine.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatalf("quarantine as smarthost: %v", err)
	}
	defer q.Close()
	l, err := limits.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatalf("limits as smarthost: %v", err)
	}
	defer l.Close()
	now := time.Now()
	if _, ok, err := l.Admit(ctx, "alice", limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 5}, now); !ok || err != nil {
		t.Fatalf("admit as smarthost: %v %v", ok, err)
	}
	if _, err := l.Sight(ctx, "alice", []limits.Sighting{{Signal: limits.SignalNetworks, Value: "192.0.2.0/24", First: now, Last: now}}, now); err != nil {
		t.Fatalf("login sighting as smarthost: %v", err)
	}
	put(t, q, "alice", random(1500<<10))
	if n, err := q.Purge(ctx, now.Add(time.Minute), ""); n != 1 || err != nil {
		t.Errorf("purge as smarthost: %d %v", n, err)
	}
	if err := q.Audit(ctx, "milterd", "purge", "*", "1"); err != nil {
		t.Errorf("audit as smarthost: %v", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE entries ADD COLUMN x INTEGER`); err == nil || !strings.Contains(err.Error(), "must be owner") {
		t.Errorf("smarthost changed the schema: %v", err)
	}
}

// A release adds the trace header, and a Message-ID only to a message
// that has none (folded or not, any case).
func TestReleaseTraced(t *testing.T) {
	for msg, want := range map[string]string{
		"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n":          "X-Outguard-Release: ID\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n",
		"message-id:\r\n <folded@b>\r\nSubject: x\r\n\r\nbody\r\n": "X-Outguard-Release: ID\r\nmessage-id:\r\n <folded@b>\r\nSubject: x\r\n\r\nbody\r\n",
		"Subject: x\r\n\r\nMessage-ID: <in-body@b>\r\n":            "X-Outguard-Release: ID\r\nMessage-ID: <ID.release@outguard.invalid>\r\nSubject: x\r\n\r\nMessage-ID: <in-body@b>\r\n",
	} {
		r, _ := quarantine.Traced("ID", strings.NewReader(msg))
		got, _ := io.ReadAll(r)
		if string(got) != want {
			t.Errorf("%q\n got %q\nwant %q", msg, got, want)
		}
	}
}

// The column-level grants of docs/postgres.md: the security team changes
// an entry's state and claim only (not its record), cannot make a
// released entry held again (the schema's trigger, whoever updates), and
// the abuse desk lists the records and the audit trail but never reads a
// message. Before: the security team could rewrite rec and reset released
// entries, and the abuse desk could read chunks.
func TestPostgresColumnGrants(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	milterd := pg.Database("outguard", "milterd", "secteam", "abusedesk")
	ctx := context.Background()
	m, err := quarantine.OpenPostgres(ctx, milterd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := limits.OpenPostgres(ctx, milterd)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	a := put(t, m, "alice", []byte("a\r\n"))
	b := put(t, m, "alice", []byte("b\r\n"))
	// As in docs/postgres.md.
	pg.SQL("outguard", `GRANT SELECT, DELETE ON entries TO secteam;
		GRANT UPDATE (state, claim) ON entries TO secteam;
		GRANT SELECT, DELETE ON chunks TO secteam;
		GRANT SELECT, UPDATE ON quota TO secteam;
		GRANT SELECT, INSERT ON audit TO secteam;
		GRANT SELECT ON schema_version TO secteam;
		GRANT SELECT ON schema_version, counters, msgs, delivered, undeliverable, suspended, acks, sightings TO abusedesk;
		GRANT INSERT, UPDATE, DELETE ON suspended, acks TO abusedesk;
		GRANT DELETE ON counters TO abusedesk;
		GRANT SELECT ON entries, audit TO abusedesk;`)
	as := func(role string) *sql.DB {
		db, err := sql.Open("pgx", pg.DSNFor(role, "outguard"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sec, desk := as("secteam"), as("abusedesk")
	denied := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s: %v, want permission denied", what, err)
		}
	}
	_, err = sec.Exec(`UPDATE entries SET rec = '{}' WHERE id = $1`, a)
	denied("secteam rewrites a record", err)
	_, err = sec.Exec(`UPDATE entries SET account = 'bob' WHERE id = $1`, a)
	denied("secteam moves an entry to another account", err)
	// The reviewer's own work goes through: a release that fails before
	// the dot (claimed, then put back), a delete.
	r, err := quarantine.OpenPostgres(ctx, pg.DSNFor("secteam", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Release(ctx, a, "127.0.0.1:1", "secteam", nil); err == nil || strings.Contains(err.Error(), "permission denied") {
		t.Errorf("reviewer release: %v", err)
	}
	if rec, _ := r.Get(ctx, a); rec.State != quarantine.Held {
		t.Errorf("after a failed release: %s", rec.State)
	}
	// A released entry stays released, whoever asks.
	pg.SQL("outguard", `UPDATE entries SET state = 'released' WHERE id = '`+a+`'`)
	if _, err := sec.Exec(`UPDATE entries SET state = 'held', claim = NULL WHERE id = $1`, a); err == nil || !strings.Contains(err.Error(), "cannot become held") {
		t.Errorf("secteam reset a released entry: %v", err)
	}
	if err := r.Delete(ctx, a); err != nil {
		t.Errorf("reviewer delete of a released entry: %v", err)
	}
	// The abuse desk: records yes, messages no.
	d, err := quarantine.OpenPostgres(ctx, pg.DSNFor("abusedesk", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if recs, err := d.List(ctx, quarantine.Filter{}); err != nil || len(recs) != 2 {
		t.Errorf("abuse desk list: %d %v", len(recs), err)
	}
	_, _, err = d.Message(ctx, b)
	denied("abuse desk reads a message", err)
	var n int
	denied("abuse desk reads chunks", desk.QueryRow(`SELECT COUNT(*) FROM chunks`).Scan(&n))
	_, err = desk.Exec(`UPDATE entries SET state = 'held' WHERE id = $1`, b)
	denied("abuse desk changes an entry", err)
}

// Concurrent holds on two hosts (two handles on one store) against a quota
// of 5 entries: exactly 5 are taken, whatever the interleaving; the total
// follows deletes and purges, counting an entry once however often it is
// removed. Before: each hold counted the entries, then inserted, so
// concurrent holds overshot the quota.
func TestQuotaExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	dsn := harness.StartPostgres(t).DSN
	open := map[string]func() (*quarantine.Store, error){
		"local":    func() (*quarantine.Store, error) { return quarantine.Open(dir) },
		"postgres": func() (*quarantine.Store, error) { return quarantine.OpenPostgres(ctx, dsn) },
	}
	for kind, o := range open {
		t.Run(kind, func(t *testing.T) {
			var hosts [2]*quarantine.Store
			for i := range hosts {
				s, err := o()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				s.SetQuota(0, 5)
				hosts[i] = s
			}
			var wg sync.WaitGroup
			var taken, full atomic.Int32
			start := make(chan struct{})
			for i := range 30 {
				wg.Go(func() {
					<-start
					_, err := hosts[i%2].Put(ctx, quarantine.Record{Time: time.Now(), User: "alice"}, strings.NewReader("held\r\n"))
					switch {
					case err == nil:
						taken.Add(1)
					case errors.Is(err, quarantine.ErrFull):
						full.Add(1)
					default:
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			recs, _ := hosts[0].List(ctx, quarantine.Filter{})
			if taken.Load() != 5 || full.Load() != 25 || len(recs) != 5 {
				t.Fatalf("quota 5: %d taken, %d full, %d entries", taken.Load(), full.Load(), len(recs))
			}
			if n, b, err := hosts[1].Stats(ctx); n != 5 || b != 30 || err != nil {
				t.Errorf("stats %d %d %v", n, b, err)
			}
			// Two removals of one entry at once count it once.
			var wg2 sync.WaitGroup
			for i := range 2 {
				wg2.Go(func() { hosts[i].Delete(ctx, recs[0].ID) })
			}
			wg2.Wait()
			if n, b, _ := hosts[0].Stats(ctx); n != 4 || b != 24 {
				t.Errorf("after a double delete: %d %d", n, b)
			}
			if n, err := hosts[1].Purge(ctx, time.Now().Add(time.Minute), ""); n != 5 || err != nil {
				t.Errorf("purge: %d %v", n, err)
			}
			if n, b, _ := hosts[0].Stats(ctx); n != 0 || b != 0 {
				t.Errorf("after purge: %d %d", n, b)
			}
			if _, err := hosts[0].Put(ctx, quarantine.Record{Time: time.Now()}, strings.NewReader("x")); err != nil {
				t.Errorf("room again after purge: %v", err)
			}
		})
	}
}

// A hold's transaction names its deadline; PostgreSQL refuses the COMMIT
// that comes after it (a server that stalled and woke with the COMMIT in
// its socket buffer), and takes one that comes in time. Before: nothing
// stopped a late commit.
func TestHoldNeverCommitsLate(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	s, err := quarantine.OpenPostgres(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hold := func(id string, leftMS int, wait time.Duration) error {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		// What Store.commitBy sets, then the entry, then the COMMIT late.
		if _, err := tx.Exec(`SELECT set_config('outguard.commit_by', (FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) + $1)::bigint::text, true)`, leftMS); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO entries (id, t, account, state, size, host, rec) VALUES ($1, 0, 'alice', 'held', 0, 'mx1', '{}')`, id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait)
		return tx.Commit()
	}
	if err := hold("late", 100, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "after its deadline") {
		t.Errorf("a commit after the deadline: %v", err)
	}
	if _, err := s.Get(context.Background(), "late"); !errors.Is(err, quarantine.ErrNotFound) {
		t.Errorf("the late entry was committed: %v", err)
	}
	if err := hold("in-time", 5000, 0); err != nil {
		t.Errorf("a commit in time: %v", err)
	}
	// A Put with a deadline commits in time.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Put(ctx, quarantine.Record{Time: time.Now(), User: "alice"}, strings.NewReader("x\r\n")); err != nil {
		t.Errorf("put with a deadline: %v", err)
	}
}
