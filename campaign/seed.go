package campaign

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"outguard/limits"
)

// SeedSize is the size of the random seed a fleet's first smarthost
// stores (SeedSource).
const SeedSize = 32

// Seed keys the run hash (appendRuns), and so which runs of a text are
// sampled as its keys. With the zero Seed the hash is the one in this
// source: whoever reads it can choose, per copy, words whose runs hash
// below the others and pad each copy with them, so that they, not the
// campaign's shared text, fill the MaxKeys sample (about 200 such words
// hid a 78-word phish from 40 accounts, where 2000 random words are
// needed: TestSecretSeedPadding). With a secret Seed nobody outside the
// fleet knows which runs are sampled first. Every smarthost of a fleet
// must use the same Seed: copies hashed under different seeds share no
// key, so milterd reads it from the shared store (SeedSource). The keyed
// hash is a fast mix, not a MAC: several keys and the texts they came
// from tell the seed (docs/suspension.md).
type Seed struct{ run, word uint64 }

// NewSeed is the Seed of secret bytes (SeedSize of them).
func NewSeed(raw []byte) (Seed, error) {
	if len(raw) != SeedSize {
		return Seed{}, fmt.Errorf("seed of %d bytes, want %d", len(raw), SeedSize)
	}
	// Derived, not the bytes themselves: the same random bytes may not
	// serve two purposes by mistake with related values.
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("outguard campaign run hash"))
	sum := m.Sum(nil)
	return Seed{run: binary.LittleEndian.Uint64(sum), word: binary.LittleEndian.Uint64(sum[8:])}, nil
}

// SeedSource is where an engine's Seed comes from: the fleet's shared
// limits store (StoreSeed: milterd, built by setup) or a Seed given
// (FixedSeed: tests and benchmarks; FixedSeed(Seed{}) is the published
// sampling). A nil SeedSource has no seed: the engine fails (its
// on_error), it never samples with the published seed.
type SeedSource struct {
	store limits.SeedStore
	known atomic.Pointer[Seed]
}

// StoreSeed is the seed kept in st: created there by whichever host
// needs it first, the same for every host of the fleet.
func StoreSeed(st limits.SeedStore) *SeedSource { return &SeedSource{store: st} }

// FixedSeed is seed.
func FixedSeed(seed Seed) *SeedSource {
	s := &SeedSource{}
	s.known.Store(&seed)
	return s
}

// Known is the seed if it has been read (a FixedSeed's always).
func (s *SeedSource) Known() (Seed, bool) {
	if s == nil {
		return Seed{}, false
	}
	if p := s.known.Load(); p != nil {
		return *p, true
	}
	return Seed{}, false
}

// Get is the seed: read from the store the first time (stored there
// first, SeedSize bytes from crypto/rand, when the fleet has none yet),
// then kept for the life of the process, as the stored seed never
// changes. A store that fails fails Get, and the next Get reads again.
// Callers that race on the first read each ask the store: it gives all
// of them the one seed its first writer stored.
func (s *SeedSource) Get(ctx context.Context) (Seed, error) {
	if seed, ok := s.Known(); ok {
		return seed, nil
	}
	if s == nil || s.store == nil {
		return Seed{}, errors.New("campaign: no seed: no limits store to keep it")
	}
	fresh := make([]byte, SeedSize)
	rand.Read(fresh) // never fails (crypto/rand, Go 1.24)
	raw, err := s.store.CampaignSeed(ctx, fresh)
	if err != nil {
		return Seed{}, err
	}
	seed, err := NewSeed(raw)
	if err != nil {
		return Seed{}, fmt.Errorf("campaign: the store's seed: %w", err)
	}
	s.known.Store(&seed)
	return seed, nil
}
