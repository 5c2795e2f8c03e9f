package campaign

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"outguard/limits"
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
// words are needed, TestReviewBulkJunk); with the seed the store creates
// (StoreSeed, as milterd has it) the same padding is random words to the
// sample, and the phish is found at the 5th account, for each of three
// stores' seeds.
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
	if at := foundAtSeed(t, FixedSeed(Seed{}), 40, copyOf(rand.New(rand.NewPCG(2, 2)))); at != 0 {
		t.Errorf("known seed: found at account %d, want never (the padding no longer crowds the text out: the test proves nothing)", at)
	}
	for i := range 3 {
		if at := foundAtSeed(t, nil, 40, copyOf(rand.New(rand.NewPCG(2, 2)))); at != 5 {
			t.Errorf("store seed %d: found at account %d, want 5", i, at)
		}
	}
}

// countingSeeds counts the calls to a real store's CampaignSeed.
type countingSeeds struct {
	limits.SeedStore
	n atomic.Int32
}

func (c *countingSeeds) CampaignSeed(ctx context.Context, fresh []byte) ([]byte, error) {
	c.n.Add(1)
	return c.SeedStore.CampaignSeed(ctx, fresh)
}

// TestSeedSource: the seed comes from the store, created there by the
// first reader (two handles on one SQLite file, as milterd and another
// process, read the same one), and is kept after the first read (the
// store is not asked again, and a store closed since does not matter).
// No source, a closed store or a stored seed of the wrong size give an
// error, never the published Seed.
func TestSeedSource(t *testing.T) {
	ctx := context.Background()
	var none *SeedSource
	if s, err := none.Get(ctx, discard); err == nil {
		t.Errorf("no source: %v", s)
	}
	if s, ok := FixedSeed(Seed{run: 1}).Known(); !ok || s != (Seed{run: 1}) {
		t.Errorf("fixed: %v %v", s, ok)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() *limits.SQLStore {
		st, err := limits.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b := open(), open()
	defer b.Close()
	ca := &countingSeeds{SeedStore: a}
	src := StoreSeed(ca)
	if _, ok := src.Known(); ok {
		t.Fatal("known before the first read")
	}
	s1, err := src.Get(ctx, discard)
	if err != nil || s1 == (Seed{}) {
		t.Fatalf("first read: %v %v", s1, err)
	}
	raw, err := b.CampaignSeed(ctx, make([]byte, SeedSize))
	if want, _ := NewSeed(raw); err != nil || want != s1 {
		t.Fatalf("the other handle reads another seed (%v) or the stored one is not what was used", err)
	}
	if s2, err := StoreSeed(b).Get(ctx, discard); err != nil || s2 != s1 {
		t.Fatalf("the other handle's source: %v %v", s2 == s1, err)
	}
	a.Close()
	if s, err := src.Get(ctx, discard); err != nil || s != s1 || ca.n.Load() != 1 {
		t.Errorf("kept: %v %v, the store asked %d times", s == s1, err, ca.n.Load())
	}
	if s, err := StoreSeed(a).Get(ctx, discard); err == nil {
		t.Errorf("a closed store gave %v", s)
	}
	// A seed of the wrong size in the store (written by hand) is an
	// error, not a seed.
	short := filepath.Join(t.TempDir(), "short.db")
	st, err := limits.OpenSQLite(short)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CampaignSeed(ctx, []byte("sixteen bytes!!!")); err != nil {
		t.Fatal(err)
	}
	src = StoreSeed(st)
	if s, err := src.Get(ctx, discard); err == nil || !strings.Contains(err.Error(), "seed of 16 bytes") {
		t.Errorf("a short stored seed: %v %v", s, err)
	}
	if _, ok := src.Known(); ok {
		t.Error("a failed read is kept")
	}
}
