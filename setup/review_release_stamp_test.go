package setup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"outguard/config"
)

// A held message whose account is too long to seal into a reference
// (a login or a trusted relay's sender of more than 200 bytes) is
// released as milterd lets such mail go: unstamped, the fields it came
// with removed. Before: every release of it failed ("too long for a
// reference"), and the entry could never leave the quarantine while
// complaints were configured. A key that cannot be read still fails it.
func TestReviewReleaseStampLongAccount(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "ref.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s]}\nlimits: {}\nquarantine: {}\n", dir, key)))
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQuarantine(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	remove, add, err := q.Stamp("mx1", "Q1", strings.Repeat("m", 201)+"@customer.test")
	if err != nil || len(add) != 0 || !slices.Contains(remove, "X-Outguard-Ref") || !slices.Contains(remove, "CFBL-Feedback-ID") {
		t.Errorf("a long account: remove %v, add %v, %v", remove, add, err)
	}
	if _, add, err := q.Stamp("mx1", "Q1", "alice"); err != nil || len(add) != 1 {
		t.Errorf("alice: add %v, %v", add, err)
	}
	os.Chmod(key, 0o644)
	if _, _, err := q.Stamp("mx1", "Q1", "alice"); err == nil || !strings.Contains(err.Error(), "complaints.keys") {
		t.Errorf("an unsafe key: %v", err)
	}
}
