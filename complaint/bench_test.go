package complaint

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// The cost of stamping a message (Seal) and of reading a reference back
// (Open), against the baseline of an HMAC-SHA256 over the same fields
// (what a signed, readable reference would cost) in the same run.
func BenchmarkRef(b *testing.B) {
	ks := testKeys(b, 1)
	ref, _ := ks.Seal(aliceRef)
	b.Run("hmac-baseline", func(b *testing.B) {
		for b.Loop() {
			m := hmac.New(sha256.New, []byte("0123456789abcdef0123456789abcdef"))
			m.Write([]byte(aliceRef.Host + aliceRef.QueueID + aliceRef.Account))
			m.Sum(nil)
		}
	})
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			ks.Seal(aliceRef)
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			ks.Open(ref)
		}
	})
}
