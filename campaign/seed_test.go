package campaign

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// padding is an attacker's padding for one copy: n made-up words (other
// ones in each copy, so that the padding is no campaign of its own)
// chosen so that every run among them hashes below limit under known,
// the seed the attacker knows (the zero Seed, in this source): they are
// sampled before the copy's shared text, which they crowd out of the
// MaxKeys sample.
func padding(rng *rand.Rand, pool []string, known Seed, n int, limit uint64) []string {
	var out []string
	var h []uint64
	for len(out) < n {
		w := pool[rng.IntN(len(pool))]
		wh := wordHash(w)
		k := len(h)
		if k >= 2 && known.runHash(h[k-2], h[k-1], wh) >= limit ||
			k >= 3 && (known.runHash(h[k-3], h[k-1], wh) >= limit || known.runHash(h[k-3], h[k-2], wh) >= limit) {
			continue
		}
		out, h = append(out, w), append(h, wh)
	}
	return out
}

// TestSecretSeedPadding: an attacker who knows the run hash (the source,
// the zero Seed) appends to each copy of a 78-word phish 200 shown words
// whose runs hash below 0.08×2⁶⁴: with the known seed they fill the
// sample and the phish is never found in 40 accounts (where 2000 random
// words are needed, TestReviewBulkJunk); with a secret seed the same
// padding is random words to the sample, and the phish is found at the
// 5th account, for each of three seeds.
func TestSecretSeedPadding(t *testing.T) {
	gen := rand.New(rand.NewPCG(28, 28))
	pool := make([]string, 20000)
	for i := range pool {
		const cons, vow = "bcdfghklmnprstvwz", "aeiou"
		var b strings.Builder
		for range 3 + gen.IntN(3) {
			b.WriteByte(cons[gen.IntN(len(cons))])
			b.WriteByte(vow[gen.IntN(len(vow))])
		}
		pool[i] = b.String()
	}
	limit := ^uint64(0) / 100 * 8 // 0.08×2⁶⁴
	pad := padding(rand.New(rand.NewPCG(1, 1)), pool, Seed{}, 200, limit)
	if got := Normalize(strings.Join(pad, " "), false, nil); !slices.Equal(got, pad) {
		t.Fatalf("the padding is not its own tokens: %q", got[:min(len(got), 10)])
	}
	copyOf := func(rng *rand.Rand) func(i int) (string, []byte) {
		return func(i int) (string, []byte) {
			rcpt, h, b := phishBody(i)
			return rcpt, []byte(h + "\n\n" + b + "\n\n" + strings.Join(padding(rng, pool, Seed{}, 200, limit), " ") + "\n")
		}
	}
	if at := foundAtSeed(t, Seed{}, 40, copyOf(rand.New(rand.NewPCG(2, 2)))); at != 0 {
		t.Errorf("known seed: found at account %d, want never (the padding no longer crowds the text out: the test proves nothing)", at)
	}
	for i := range uint64(3) {
		raw := make([]byte, SeedSize)
		rng := rand.New(rand.NewPCG(i, 99))
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		seed, err := NewSeed(raw)
		if err != nil {
			t.Fatal(err)
		}
		if at := foundAtSeed(t, seed, 40, copyOf(rand.New(rand.NewPCG(2, 2)))); at != 5 {
			t.Errorf("secret seed %d: found at account %d, want 5", i, at)
		}
	}
}

// TestLoadSeed: a seed file is SeedSize bytes nobody else can read; the
// same file gives the same seed (every smarthost of a fleet given one
// file samples alike), another file another.
func TestLoadSeed(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a", []byte(strings.Repeat("a", SeedSize)), 0o600)
	s1, err := LoadSeed(a)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := LoadSeed(write("a2", []byte(strings.Repeat("a", SeedSize)), 0o640))
	if err != nil || s2 != s1 {
		t.Fatalf("the same bytes: %v, %v", s2 == s1, err)
	}
	if s3, err := LoadSeed(write("b", []byte(strings.Repeat("b", SeedSize)), 0o600)); err != nil || s3 == s1 || s3 == (Seed{}) {
		t.Fatalf("other bytes: %v %v", s3, err)
	}
	for name, c := range map[string]struct {
		b    []byte
		mode os.FileMode
	}{
		"short":         {[]byte("abc"), 0o600},
		"long":          {[]byte(strings.Repeat("a", SeedSize+1)), 0o600},
		"worldReadable": {[]byte(strings.Repeat("a", SeedSize)), 0o644},
		"groupWritable": {[]byte(strings.Repeat("a", SeedSize)), 0o660},
	} {
		if _, err := LoadSeed(write(name, c.b, c.mode)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := LoadSeed(dir); err == nil {
		t.Error("a directory: loaded")
	}
	if _, err := LoadSeed(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file: loaded")
	}
}
