package web

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// wrongPasswordCosts checks a wrong password for each name against the
// users file, interleaved, and fails the test unless every name costs as
// long as every other within a factor of 4: the fastest of 15 tries each,
// in the same run (no absolute time).
func wrongPasswordCosts(t *testing.T, file string, names ...string) {
	t.Helper()
	u := &users{path: file}
	fastest := make([]time.Duration, len(names))
	for i := range fastest {
		fastest[i] = time.Hour
	}
	for range 15 {
		for i, name := range names {
			start := time.Now()
			if _, ok, err := u.check(name, "a wrong password"); ok || err != nil {
				t.Fatalf("%s: %v %v", name, ok, err)
			}
			fastest[i] = min(fastest[i], time.Since(start))
		}
	}
	for i := range names {
		for j := range names {
			if r := float64(fastest[i]) / float64(fastest[j]); r > 4 {
				t.Errorf("a wrong password takes %v for %q, %v for %q (ratio %.1f): they are told apart", fastest[i], names[i], fastest[j], names[j], r)
			}
		}
	}
}

// A wrong password costs as long for a name the users file lacks as for
// one it has, whatever hash the file's users have: here argon2id with
// small parameters (a few ms), against which the fixed bcrypt decoy
// (some 50 ms) told names apart.
func TestReviewNoUserEnumerationByTiming(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	ann := argon2idTool(t, "ann's long password", "saltsaltsalt", "10", "1", "1") // 1 MiB, one pass
	if err := os.WriteFile(file, []byte("ann:"+ann+":admin\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	wrongPasswordCosts(t, file, "ann", "nobody")
}

// In a file that mixes hash kinds (an argon2id user among bcrypt ones, as
// after a partial migration), a wrong password costs the same for every
// user and for a name the file lacks: a login that cost one hash of the
// account's own kind told argon2id users (a few ms) from bcrypt ones
// (tens of ms), and a name the file lacks answered as fast as the decoy
// of the first user's kind.
func TestNoEnumerationByHashKind(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	ann := argon2idTool(t, "ann's long password", "saltsaltsalt", "10", "1", "1")
	// Cost 7: some 8 ms (0.3 s under -race), well apart from ann's hash.
	bob, err := bcrypt.GenerateFromPassword([]byte("bob's long password"), 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("ann:"+ann+":admin\nbob:"+string(bob)+":viewer\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	wrongPasswordCosts(t, file, "ann", "bob", "nobody")
}
