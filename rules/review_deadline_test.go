package rules

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"outguard/internal/mailcorpus"
	"outguard/mimewalk"
)

// TestReviewScanDeadlineInsideArchive: with the shipped rules, a message
// whose one attachment decodes for longer than the message's deadline
// (128 MiB of zeros in a 20 KB .xz, under budgets an operator set wide)
// was scanned to the end and accepted, as if scanned in time. The scan
// now ends at the deadline with its error, which the pipeline turns into
// the check's on_error (tempfail by default), never an accept.
func TestReviewScanDeadlineInsideArchive(t *testing.T) {
	e := shipped(t)
	// Budgets set wide, and items kept in memory (no wait for room to map
	// one, which looks at ctx).
	e.Limits = mimewalk.Limits{SpoolDir: t.TempDir(), MaxRatio: 1 << 20, MaxPart: 1 << 30, MaxTotal: 1 << 31, MemoryLimit: 1 << 30}
	dir := t.TempDir()
	zeros := filepath.Join(dir, "log.txt")
	if err := os.WriteFile(zeros, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(zeros, 128<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xz", "-1", "-T1", zeros).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v: %s", err, out)
	}
	arc, err := os.ReadFile(zeros + ".xz")
	if err != nil {
		t.Fatal(err)
	}
	msg := mailcorpus.Message("logs", mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "Logs attached.\r\n"),
		mailcorpus.Attach("application/x-xz", "log.txt.xz", arc)))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := e.Scan(ctx, bytes.NewReader(msg), int64(len(msg)), "alice", "alice@customer.test")
	if !errors.Is(err, context.DeadlineExceeded) {
		v := e.Decide(res, func(string) {}, func(string) {})
		t.Fatalf("a scan past its deadline: error %v, verdict %s on %d items", err, v.Action, len(res.Items))
	}
}
