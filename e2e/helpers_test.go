package e2e

import (
	"crypto/rand"

	"outguard/internal/harness"
)

// Helpers more than one topic's tests use.

const eicar = harness.EICAR

// random returns n random bytes: a body no compression or signature
// shortcut applies to.
func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
