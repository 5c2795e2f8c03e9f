package campaign

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

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

// SeedRecheck is how often a host reads the stored seed again. A store
// can lose it (a Redis without persistence restarted or flushed, a row
// deleted by hand): the next host to need one then stores another, and
// without a recheck the hosts that had read the old one would keep it
// until they restart, the fleet split on two seeds whose copies share no
// key (a run spread over the hosts then needs Accounts per seed). On a
// recheck a host offers its own seed (stored again if there is none, as
// SET NX or INSERT … ON CONFLICT DO NOTHING) and takes the stored one
// if another host's got there first: the store is the one arbiter, so
// the fleet is on one seed again within SeedRecheck of the loss (the
// copies counted under the old seed in the window are not matched by
// the new one's). One store round trip per host per SeedRecheck, not
// per message.
const SeedRecheck = time.Minute

// SeedSource is where an engine's Seed comes from: the fleet's shared
// limits store (StoreSeed: milterd, built by setup) or a Seed given
// (FixedSeed: tests and benchmarks; FixedSeed(Seed{}) is the published
// sampling). A nil SeedSource has no seed: the engine fails (its
// on_error), it never samples with the published seed.
type SeedSource struct {
	store    limits.SeedStore
	known    atomic.Pointer[seedRead]
	checking atomic.Bool      // one recheck at a time (Get)
	now      func() time.Time // time.Now; tests move it
}

// seedRead is a seed and when it was last read from the store (raw nil:
// a FixedSeed, never read again).
type seedRead struct {
	seed Seed
	raw  []byte
	at   time.Time
}

// StoreSeed is the seed kept in st: created there by whichever host
// needs it first, the same for every host of the fleet.
func StoreSeed(st limits.SeedStore) *SeedSource {
	return &SeedSource{store: st, now: time.Now}
}

// FixedSeed is seed.
func FixedSeed(seed Seed) *SeedSource {
	s := &SeedSource{}
	s.known.Store(&seedRead{seed: seed})
	return s
}

// Known is the seed if it has been read (a FixedSeed's always).
func (s *SeedSource) Known() (Seed, bool) {
	if s == nil {
		return Seed{}, false
	}
	if p := s.known.Load(); p != nil {
		return p.seed, true
	}
	return Seed{}, false
}

// Get is the seed: read from the store the first time (stored there
// first, SeedSize bytes from crypto/rand, when the fleet has none yet),
// then kept, and read again every SeedRecheck (a store that lost it is
// given it back, another host's stored since is taken: log says so). A
// store that fails the first read fails Get, and the next Get reads
// again; one that fails a recheck keeps the seed read before (the
// message's count fails on the store anyway) until the next recheck.
// Callers that race on the first read each ask the store: it gives all
// of them the one seed its first writer stored.
func (s *SeedSource) Get(ctx context.Context, log *slog.Logger) (Seed, error) {
	if s == nil {
		return Seed{}, errors.New("campaign: no seed: no limits store to keep it")
	}
	p := s.known.Load()
	if p != nil && (p.raw == nil || s.now().Sub(p.at) < SeedRecheck || !s.checking.CompareAndSwap(false, true)) {
		return p.seed, nil
	}
	if p != nil {
		defer s.checking.Store(false)
	}
	if s.store == nil {
		return Seed{}, errors.New("campaign: no seed: no limits store to keep it")
	}
	offer := make([]byte, SeedSize)
	if p != nil {
		offer = p.raw
	} else {
		rand.Read(offer) // never fails (crypto/rand, Go 1.24)
	}
	raw, err := s.store.CampaignSeed(ctx, offer)
	var seed Seed
	if err == nil {
		if seed, err = NewSeed(raw); err != nil {
			err = fmt.Errorf("campaign: the store's seed: %w", err)
		}
	}
	if err != nil {
		if p == nil {
			return Seed{}, err
		}
		log.Warn("campaign: reading the fleet's seed again failed; kept the one read before", "err", err)
		s.known.Store(&seedRead{seed: p.seed, raw: p.raw, at: s.now()})
		return p.seed, nil
	}
	if p != nil && seed != p.seed {
		log.Warn("campaign: the store holds another seed than the one this host read (the store lost it and another host stored a new one): counting under the store's; copies counted under the old one are not matched (docs/suspension.md)")
	}
	s.known.Store(&seedRead{seed: seed, raw: raw, at: s.now()})
	return seed, nil
}
