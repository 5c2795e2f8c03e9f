package mimewalk

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
)

// flatDecoder reads r as it is and, after each run of base64 lines, that
// run decoded: what lies below a nesting or part-count limit is scanned
// without its structure, but with its attachments' bytes in the clear,
// however deep they were nested. It is one linear pass, whatever the
// nesting.
func flatDecoder(r io.Reader) io.Reader {
	return &flat{r: bufio.NewReaderSize(r, 64<<10)}
}

type flat struct {
	r   *bufio.Reader
	run []byte // base64 text of the current run, without line ends
	out bytes.Buffer
	err error
}

// A base64 line of an encoded part: RFC 2045 6.8 writes at most 76
// characters a line; runs shorter than minB64 are ordinary words.
const (
	minB64 = 16
	maxRun = 1 << 20 // decoded in pieces of this much text, at 4-byte boundaries
)

func (f *flat) Read(p []byte) (int, error) {
	for f.out.Len() == 0 && f.err == nil {
		line, err := f.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			err = nil // a long line: taken in pieces
		}
		f.out.Write(line)
		if t := bytes.TrimRight(line, "\r\n"); isBase64Line(t) {
			f.run = append(f.run, bytes.TrimRight(t, "=")...)
			if len(f.run) >= maxRun {
				f.decode(len(f.run) - len(f.run)%4)
			}
		} else {
			f.decode(len(f.run))
		}
		if err != nil {
			f.decode(len(f.run))
			f.err = err
		}
	}
	n, _ := f.out.Read(p)
	if n == 0 {
		return 0, f.err
	}
	return n, nil
}

// decode appends the first n characters of the run, decoded, to the
// output, and keeps the rest of the run.
func (f *flat) decode(n int) {
	if n < minB64 {
		f.run = f.run[:0]
		return
	}
	text := f.run[:n]
	if n%4 == 1 { // not a whole byte: a stray character
		text = text[:n-1]
	}
	dst := make([]byte, base64.RawStdEncoding.DecodedLen(len(text)))
	m, _ := base64.RawStdEncoding.Decode(dst, text)
	// On a line of its own: what it holds starts a line (a script's "#!"),
	// whatever the last line before it ended with.
	f.out.WriteByte('\n')
	f.out.Write(dst[:m])
	f.run = append(f.run[:0], f.run[n:]...)
}

func isBase64Line(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
