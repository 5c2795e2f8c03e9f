package mimewalk

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
)

func FuzzWalk(f *testing.F) {
	files, _ := filepath.Glob("../testdata/messages/*.eml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	for _, c := range append(mailcorpus.Hostile(), mailcorpus.Ordinary()...) {
		if len(c.Msg) < 64<<10 {
			f.Add(c.Msg)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		lim := Limits{MaxTotal: 1 << 20, MaxPart: 256 << 10, MemoryLimit: 32 << 10, SpoolDir: t.TempDir()}
		var total int64
		findings, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), lim, func(it *Item) error {
			if it.Path == "" || it.Data == nil {
				t.Fatalf("item without path or data: %+v", it)
			}
			if it.Path != "header" && it.Path != "raw" {
				total += it.Data.Size()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk failed on bad input instead of reporting it: %v", err)
		}
		if total > lim.MaxTotal {
			t.Fatalf("expanded %d bytes past the %d limit", total, lim.MaxTotal)
		}
		for _, fd := range findings {
			if fd.Kind == "" || fd.Path == "" {
				t.Fatalf("finding without kind or path: %+v", fd)
			}
		}
	})
}

// The review listing is the walk: archive members and their findings too.
func TestParts(t *testing.T) {
	data, _ := os.ReadFile("../testdata/messages/21-encrypted-behind-plain.eml")
	parts, _, err := Parts(context.Background(), bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil || len(parts) != 5 || parts[4].Path != "1.2/invoice.zip/invoice.exe" || len(parts[4].Anomalies) != 1 || parts[4].Anomalies[0].Kind != "encrypted" {
		t.Fatalf("%+v %v", parts, err)
	}
}

func TestBase64Reader(t *testing.T) {
	for _, c := range []struct {
		in, want string
		bad      bool
	}{
		{"aGVsbG8gd29y\r\nbGQ=\r\n", "hello world", false},
		{"aGVs bG8=", "hello", false},
		{"aGVsbG8", "", true},  // truncated
		{"aGV*bG8=", "", true}, // illegal character
		{"", "", false},
	} {
		got, err := io.ReadAll(newB64Reader(strings.NewReader(c.in)))
		if (err != nil) != c.bad || !c.bad && string(got) != c.want {
			t.Errorf("%q: %q %v", c.in, got, err)
		}
	}
}

// The bulk decoder gives what the standard decoder gives for the same text
// without white space, whatever sizes the input arrives and is read in.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29y\r\nbGQ=\r\n"), uint8(3), uint16(5))
	f.Add([]byte("aGVs bG8=\taGVsbG8="), uint8(1), uint16(1))
	f.Add([]byte("aGV*bG8="), uint8(7), uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, inStep uint8, outStep uint16) {
		r := newB64Reader(&stepReader{data: in, step: int(inStep) + 1})
		var got []byte
		buf := make([]byte, int(outStep)+1)
		var err error
		for {
			var n int
			n, err = r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		stripped := strings.Map(func(c rune) rune {
			if strings.ContainsRune(" \t\r\n", c) {
				return -1
			}
			return c
		}, string(in))
		want, werr := base64.StdEncoding.DecodeString(stripped)
		if werr == nil && (err != io.EOF || !bytes.Equal(got, want)) {
			t.Fatalf("%q: got %q, %v; want %q", in, got, err, want)
		}
	})
}

type stepReader struct {
	data []byte
	step int
}

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.data[:min(s.step, len(s.data))])
	s.data = s.data[n:]
	return n, nil
}
