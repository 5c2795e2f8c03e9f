package campaign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"outguard/internal/secretfile"
)

// SeedSize is the size of a seed file: random bytes (head -c 32
// /dev/urandom).
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
// key. The keyed hash is a fast mix, not a MAC: several keys and the
// texts they came from tell the seed (docs/suspension.md).
type Seed struct{ run, word uint64 }

// NewSeed is the Seed of SeedSize secret bytes.
func NewSeed(raw []byte) (Seed, error) {
	if len(raw) != SeedSize {
		return Seed{}, fmt.Errorf("seed of %d bytes, want %d", len(raw), SeedSize)
	}
	// Derived, not the bytes themselves: the same random file may not
	// serve two purposes by mistake with related values.
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("outguard campaign run hash"))
	sum := m.Sum(nil)
	return Seed{run: binary.LittleEndian.Uint64(sum), word: binary.LittleEndian.Uint64(sum[8:])}, nil
}

// LoadSeed reads the seed file at path (secretfile.Read: SeedSize bytes
// nobody else can read, as the complaint reference keys).
func LoadSeed(path string) (Seed, error) {
	raw, err := secretfile.Read(path, "seed", SeedSize)
	if err != nil {
		return Seed{}, err
	}
	return NewSeed(raw)
}
