package mimewalk

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"sync"
)

// b64Reader decodes base64 in bulk: the standard library's streaming
// decoder filters line breaks a byte at a time, which was 40% of the walk
// on attachment-heavy mail. Line ends are cut out with IndexByte and the
// rest decoded straight into the caller's buffer; only a chunk with other
// white space or a bad character takes the byte-by-byte path. Characters
// outside the alphabet other than white space are skipped, as mail
// clients skip them, and make the stream end in an error (a malformed
// finding) once all was read.
type b64Reader struct {
	r   io.Reader
	in  []byte // carry (< 4 characters of an unfinished quantum), then what was read
	nc  int    // length of the carry
	out []byte // decoded, not yet read
	dst []byte // reused for out
	err error
	bad bool // a character outside the alphabet was skipped
}

const (
	b64Illegal = iota
	b64Keep
	b64Space
)

var b64Class = func() (t [256]byte) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
		t[c] = b64Keep
	}
	for _, c := range []byte(" \t\r\n") {
		t[c] = b64Space
	}
	return t
}()

var errBase64 = errors.New("illegal base64 data")

// b64Bufs keeps the readers' input buffers between parts: a fresh 64 KiB
// for each base64 part was most of the walk's allocation on small mail,
// zeroed and collected message after message (issue #32).
var b64Bufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

func newB64Reader(r io.Reader) *b64Reader {
	return &b64Reader{r: r, in: b64Bufs.Get().(*[64 << 10]byte)[:]}
}

func (b *b64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		n, err := b.r.Read(b.in[b.nc:])
		src := dropLineEnds(b.in[:b.nc+n])
		whole := len(src) / 4 * 4
		if err != nil {
			whole = len(src) // the end: decode what is left, or fail on it
		}
		dst, direct := p, true
		if need := base64.RawStdEncoding.DecodedLen(whole); len(p) < need || need == 0 {
			direct = false
			if cap(b.dst) < need {
				b.dst = make([]byte, need)
			}
			dst = b.dst[:need]
		}
		m, derr := base64.StdEncoding.Decode(dst, src[:whole])
		if derr != nil {
			// Other white space, or a bad character: filter byte by byte.
			src = b.filter(src)
			whole = len(src) / 4 * 4
			if err != nil {
				whole = len(src)
			}
			m, derr = base64.StdEncoding.Decode(dst, src[:whole])
		}
		if derr != nil {
			// Padding inside, or an unfinished quantum at the end: decoded
			// as far as it goes, as mail clients and Python's binascii do.
			m = lenient(dst, src[:whole])
			b.bad = true
		}
		b.nc = copy(b.in, src[whole:])
		if err != nil && b.err == nil {
			b.err = err
			if b.bad {
				b.err = errBase64
			}
			// The input is all decoded: its buffer goes back (a reader
			// left before its end leaves it to the collector).
			b64Bufs.Put((*[64 << 10]byte)(b.in))
			b.in = nil
		}
		if direct {
			if m > 0 {
				return m, nil
			}
			continue
		}
		b.out = dst[:m]
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// dropLineEnds removes CR and LF from the ends of lines, in place.
func dropLineEnds(src []byte) []byte {
	k := 0
	for i := 0; i < len(src); {
		end := len(src)
		if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
			end = i + j
		}
		seg := src[i:end]
		if len(seg) > 0 && seg[len(seg)-1] == '\r' {
			seg = seg[:len(seg)-1]
		}
		k += copy(src[k:], seg)
		i = end + 1
	}
	return src[:k]
}

// lenient decodes src into dst, a last lone character of a quantum
// dropped, and returns the bytes written. Padding inside ends a chunk
// and the next one is decoded on its own, as a client that decodes
// base64 written in padded pieces ("TVo=" then the rest) sees the file:
// run together, the pieces would be shifted into garbage past the first.
func lenient(dst, src []byte) int {
	m := 0
	for len(src) > 0 {
		seg := src
		if i := bytes.IndexByte(src, '='); i >= 0 {
			seg, src = src[:i], bytes.TrimLeft(src[i:], "=")
		} else {
			src = nil
		}
		k := len(seg)
		if k%4 == 1 {
			k--
		}
		n, _ := base64.RawStdEncoding.Decode(dst[m:], seg[:k])
		m += n
	}
	return m
}

// filter keeps the alphabet, drops white space and notes a bad character.
func (b *b64Reader) filter(src []byte) []byte {
	k := 0
	for _, c := range src {
		switch b64Class[c] {
		case b64Keep:
			src[k] = c
			k++
		case b64Illegal:
			b.bad = true // skipped, as clients skip it; an error at the end
		}
	}
	return src[:k]
}
