package web

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A wrong password costs as long for a name the users file lacks as for
// one it has, whatever hash the file's users have: here argon2id with
// small parameters (a few ms), against which the fixed bcrypt decoy
// (some 50 ms) told names apart. The ratio of the fastest of a few
// interleaved tries, in the same run, is compared (no absolute time).
func TestReviewNoUserEnumerationByTiming(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	ann := argon2idTool(t, "ann's long password", "saltsaltsalt", "10", "1", "1") // 1 MiB, one pass
	if err := os.WriteFile(file, []byte("ann:"+ann+":admin\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	u := &users{path: file}
	cost := func(name string) time.Duration {
		start := time.Now()
		if _, ok, err := u.check(name, "a wrong password"); ok || err != nil {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
		return time.Since(start)
	}
	known, unknown := time.Hour, time.Hour
	for range 15 {
		known, unknown = min(known, cost("ann")), min(unknown, cost("nobody"))
	}
	if r := float64(unknown) / float64(known); r > 4 || r < 0.25 {
		t.Errorf("a wrong password takes %v for a user, %v for no user (ratio %.1f): the name is told apart", known, unknown, r)
	}
}
