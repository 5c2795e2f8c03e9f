package campaign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
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

// LoadSeed reads the seed file at path: SeedSize bytes in a regular file
// nobody but its owner (and group, to read) can use, as the complaint
// reference keys (complaint.LoadKeys): a seed others can read is no
// secret.
func LoadSeed(path string) (Seed, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Seed{}, err
	}
	if m := fi.Mode(); !m.IsRegular() || m.Perm()&0o027 != 0 {
		return Seed{}, fmt.Errorf("%s: mode %v: a seed file must be a regular file nobody but its owner (and group, to read) can use (chmod 0600 or 0640)", path, m.Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, err
	}
	s, err := NewSeed(raw)
	if err != nil {
		return Seed{}, fmt.Errorf("%s: %d bytes: a seed file holds exactly %d random bytes (head -c %d /dev/urandom)", path, len(raw), SeedSize, SeedSize)
	}
	return s, nil
}
