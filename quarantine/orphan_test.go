package quarantine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"outguard/quarantine"
)

// Files a crash left in the local quarantine (a half-written .eml.tmp, an
// .eml whose record was never committed) are removed by SweepOrphans once
// old enough; younger ones count against max_bytes until a later sweep;
// held entries are untouched.
func TestSweepOrphans(t *testing.T) {
	dir := t.TempDir()
	q, err := quarantine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	held := put(t, q, "alice", random(1000))
	msg := filepath.Join(dir, "msg")
	old := time.Now().Add(-time.Hour)
	for name, size := range map[string]int{"20260101T000000-aaaaaaaa.eml.tmp": 3000, "20260101T000000-bbbbbbbb.eml": 5000} {
		p := filepath.Join(msg, name)
		os.WriteFile(p, random(size), 0o600)
		os.Chtimes(p, old, old)
	}
	young := filepath.Join(msg, "20260101T000000-cccccccc.eml")
	os.WriteFile(young, random(7000), 0o600)

	n, bytes, err := q.SweepOrphans(ctx, time.Now().Add(-5*time.Minute))
	if err != nil || n != 2 || bytes != 8000 {
		t.Fatalf("sweep: %d files, %d bytes, %v; want the 2 old orphans, 8000 bytes", n, bytes, err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the young orphan (a hold in progress, maybe) was removed: %v", err)
	}
	if _, used, _ := q.Stats(ctx); used != 1000+7000 {
		t.Errorf("quota usage %d, want the held entry and the young orphan: 8000", used)
	}
	// The young orphan counts against max_bytes.
	q.SetQuota(9000, 0)
	if _, err := q.Put(ctx, quarantine.Record{Time: time.Now(), Size: 1500}, nil); !errors.Is(err, quarantine.ErrFull) {
		t.Errorf("a 1500-byte hold over max_bytes with the orphan counted: %v, want ErrFull", err)
	}
	q.SetQuota(0, 0)
	if n, _, err := q.SweepOrphans(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("second sweep: %d, %v", n, err)
	}
	if _, used, _ := q.Stats(ctx); used != 1000 {
		t.Errorf("quota usage %d after the sweep, want 1000", used)
	}
	if r, _, err := q.Reader(ctx, held); err != nil {
		t.Errorf("the held entry: %v", err)
	} else {
		r.Close()
	}
}
