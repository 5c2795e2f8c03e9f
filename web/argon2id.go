package web

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Bounds on an argon2id hash's parameters, checked when the users file is
// read: every sign-in with a wrong password runs the hash, so a careless
// m=4194304 would let a login flood take the console's memory, and t=0 or
// p=0 would crash it (x/crypto/argon2 panics on them). 256 MiB and 16
// passes are well above RFC 9106's recommendations (2 GiB is its first,
// for dedicated hosts; 64 MiB its second).
const (
	argonMaxMemory  = 256 << 10 // KiB
	argonMaxTime    = 16
	argonMaxThreads = 16
	argonMinSalt    = 8  // bytes (the PHC string format's minimum)
	argonMinKey     = 16 // bytes: a shorter (or empty) hash matches too easily
	argonMaxKey     = 64
)

// argon2idHash is an Argon2id hash (RFC 9106) in the PHC string format
// that the reference tool (Debian's argon2: echo -n PASSWORD | argon2
// SALT -id -e), libsodium and argon2-cffi write:
// $argon2id$v=19$m=MEMORY_KIB,t=PASSES,p=LANES$SALT$HASH, salt and hash in
// unpadded standard base64.
type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2id parses a PHC string; anything but exactly the form above,
// within the bounds, is an error.
func parseArgon2id(s string) (*argon2idHash, error) {
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return nil, errors.New("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if f[2] != "v=19" {
		return nil, fmt.Errorf("version %q: only v=19 (Argon2 1.3) is supported", f[2])
	}
	var h argon2idHash
	var threads uint32
	if n, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &threads); err != nil || n != 3 || fmt.Sprintf("m=%d,t=%d,p=%d", h.memory, h.time, threads) != f[3] {
		return nil, fmt.Errorf("parameters %q: want m=MEMORY,t=PASSES,p=LANES", f[3])
	}
	switch {
	case threads < 1 || threads > argonMaxThreads:
		return nil, fmt.Errorf("p=%d: want 1 to %d lanes", threads, argonMaxThreads)
	case h.time < 1 || h.time > argonMaxTime:
		return nil, fmt.Errorf("t=%d: want 1 to %d passes", h.time, argonMaxTime)
	case h.memory < 8*threads || h.memory > argonMaxMemory:
		return nil, fmt.Errorf("m=%d: want %d to %d KiB", h.memory, 8*threads, argonMaxMemory)
	}
	h.threads = uint8(threads)
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(f[4]); err != nil || len(h.salt) < argonMinSalt {
		return nil, fmt.Errorf("salt: want at least %d bytes in unpadded base64", argonMinSalt)
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(f[5]); err != nil || len(h.key) < argonMinKey || len(h.key) > argonMaxKey {
		return nil, fmt.Errorf("hash: want %d to %d bytes in unpadded base64", argonMinKey, argonMaxKey)
	}
	return &h, nil
}

// verify reports whether password has this hash, in constant time.
func (h *argon2idHash) verify(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
