// Package complaint attributes receivers' complaints to the accounts that
// sent the mail: every accepted message is stamped with an opaque
// reference (Stamper), and a complaint report (ARF, RFC 5965; Microsoft
// JMRP; a forwarded copy) brought back to the abuse mailbox is parsed
// (Parse), its reference verified and decrypted (Keys.Open), and recorded
// against the account (Ingest).
//
// The reference is XChaCha20-Poly1305 over the host, queue id, account
// and time, under a key only outguard holds (its 192-bit random nonces
// never repeat in practice, however many messages one key seals, where
// AES-GCM's 96-bit ones would want a new key every 2^32 messages): a recipient can neither read the
// account from it nor make one (or alter one) that verifies. The key id
// in front says which of the configured keys sealed it, so keys rotate
// without losing old references: the first key seals, every key opens.
package complaint

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"outguard/internal/secretfile"
)

// KeySize is the size of a reference key file: 32 random bytes
// (head -c 32 /dev/urandom > ref.key).
const KeySize = 32

// Key is one reference key and its id (public: it names the key, it does
// not reveal it).
type Key struct {
	ID   string // 8 hex digits
	aead cipher.AEAD
}

// Keys are the configured keys: Keys[0] seals, every one opens.
type Keys []Key

// LoadKeys reads key files. A file that is not exactly KeySize bytes, or
// that other users may read or anyone but its owner may write, is an
// error naming it: a leaked key lets anyone make references that blame
// any account.
func LoadKeys(paths []string) (Keys, error) {
	if len(paths) == 0 {
		return nil, errors.New("no key files")
	}
	var ks Keys
	seen := map[string]string{}
	for _, p := range paths {
		raw, err := secretfile.Read(p, "key", KeySize)
		if err != nil {
			return nil, err
		}
		k, err := NewKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if prev, dup := seen[k.ID]; dup {
			return nil, fmt.Errorf("%s: the same key as %s", p, prev)
		}
		seen[k.ID] = p
		ks = append(ks, k)
	}
	return ks, nil
}

// NewKey makes a Key of KeySize raw bytes.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("key of %d bytes, want %d", len(raw), KeySize)
	}
	// The id is a MAC of a constant, not a hash of the key itself, and
	// the cipher key is derived apart from it.
	id := hmac.New(sha256.New, raw)
	id.Write([]byte("outguard reference key id"))
	enc := hmac.New(sha256.New, raw)
	enc.Write([]byte("outguard reference XChaCha20-Poly1305"))
	aead, err := chacha20poly1305.NewX(enc.Sum(nil))
	if err != nil {
		return Key{}, err
	}
	return Key{ID: hex.EncodeToString(id.Sum(nil)[:4]), aead: aead}, nil
}

// Ref is what a reference names.
type Ref struct {
	Host    string // the smarthost (queue ids are unique on one host)
	QueueID string
	Account string
	Time    time.Time // when the message was accepted (seconds)
	KeyID   string    // the key that sealed it (set by Open)
}

// Bounds: a reference goes into a header line (RFC 5322 2.1.1: at most
// 998 characters), so what it names is bounded; Seal refuses more.
const (
	maxField = 200 // each of host, queue id and account
	refTag   = "og1"
	// MaxRefLen bounds a reference's text: anything longer is not one.
	MaxRefLen = 1400
)

var b64 = base64.RawURLEncoding

// ErrTooLong: a name is too long to seal (Seal): the message goes
// unstamped, unattributable.
var ErrTooLong = errors.New("too long for a reference")

// Seal makes r's reference with the first key: "og1.KEYID.DATA", DATA
// the nonce and the sealed host, queue id, account and time, base64url.
func (ks Keys) Seal(r Ref) (string, error) {
	if len(ks) == 0 {
		return "", errors.New("no key")
	}
	var plain []byte
	for _, f := range []string{r.Host, r.QueueID, r.Account} {
		if len(f) > maxField {
			return "", fmt.Errorf("a name of %d bytes is %w (at most %d)", len(f), ErrTooLong, maxField)
		}
		plain = binary.AppendUvarint(plain, uint64(len(f)))
		plain = append(plain, f...)
	}
	plain = binary.BigEndian.AppendUint64(plain, uint64(r.Time.Unix()))
	k := ks[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := k.aead.Seal(nonce, nonce, plain, []byte(refTag+"."+k.ID))
	return refTag + "." + k.ID + "." + b64.EncodeToString(sealed), nil
}

// Errors of Open: why a reference does not attribute.
var (
	ErrMalformed  = errors.New("not an outguard reference")
	ErrUnknownKey = errors.New("sealed with a key not configured")
	ErrForged     = errors.New("does not verify (forged or altered)")
)

// Open verifies and decrypts a reference. White space a mail client or a
// report folded into it is ignored.
func (ks Keys) Open(s string) (Ref, error) {
	s = strings.Join(strings.Fields(s), "")
	if len(s) > MaxRefLen {
		return Ref{}, ErrMalformed
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != refTag {
		return Ref{}, ErrMalformed
	}
	data, err := b64.DecodeString(parts[2])
	if err != nil {
		data = nil // cut or altered: if the key is ours, it does not verify
	}
	for _, k := range ks {
		if k.ID != parts[1] {
			continue
		}
		n := k.aead.NonceSize()
		if len(data) < n+k.aead.Overhead() {
			return Ref{}, ErrForged
		}
		plain, err := k.aead.Open(nil, data[:n], data[n:], []byte(refTag+"."+k.ID))
		if err != nil {
			return Ref{}, ErrForged
		}
		r, ok := decode(plain)
		if !ok {
			return Ref{}, ErrForged // sealed by us, so never: but never trusted either
		}
		r.KeyID = k.ID
		return r, nil
	}
	return Ref{}, ErrUnknownKey
}

func decode(p []byte) (Ref, bool) {
	var f [3]string
	for i := range f {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > maxField || uint64(len(p)-w) < n {
			return Ref{}, false
		}
		f[i] = string(p[w : w+int(n)])
		p = p[w+int(n):]
	}
	if len(p) != 8 {
		return Ref{}, false
	}
	return Ref{Host: f[0], QueueID: f[1], Account: f[2], Time: time.Unix(int64(binary.BigEndian.Uint64(p)), 0)}, true
}

// looksLikeRef reports whether s may be a reference, for the parser's
// search of text bodies.
func looksLikeRef(s []byte) bool {
	return bytes.HasPrefix(s, []byte(refTag+"."))
}
