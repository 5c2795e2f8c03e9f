package mimewalk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// The reviewer's unit tests of issue 23's later decoders (RTF objects, the
// zip end record check); the forms themselves are in
// e2e/review_evasion_test.go.

func TestRTFHex(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"4d5a9000}", "MZ\x90\x00"},
		{"4d 5a\r\n90\\par 00}", "MZ\x90\x00"},
		{"4d{\\*\\xyz 99}5a}", "MZ"},
		{"4d5}tail", "M"},
		{"4D5A", "MZ"},
	} {
		if got := string(rtfHex(bufio.NewReader(strings.NewReader(c.in)), 100)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
	if got := rtfHex(bufio.NewReader(strings.NewReader(strings.Repeat("41", 100))), 10); len(got) != 10 {
		t.Errorf("%d bytes, want the cap 10", len(got))
	}
}

func FuzzRTFHex(f *testing.F) {
	f.Add([]byte("0105000002000000{\\*\\x 1}4d5a\\par 90}"))
	f.Add([]byte("\\"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if out := rtfHex(bufio.NewReader(bytes.NewReader(in)), 1<<20); len(out) > len(in)/2 {
			t.Fatalf("%q: %d bytes out of %d", in, len(out), len(in))
		}
	})
}

// A text holding the end record's signature is no zip; a zip with junk
// before it is.
func TestEndRecord(t *testing.T) {
	rec := make([]byte, 22)
	copy(rec, "PK\x05\x06")
	binary.LittleEndian.PutUint16(rec[8:], 2)
	binary.LittleEndian.PutUint16(rec[10:], 2)
	binary.LittleEndian.PutUint32(rec[12:], 100) // directory size
	binary.LittleEndian.PutUint32(rec[16:], 50)  // directory offset
	if !endRecord(rec, 150) || endRecord(rec, 149) {
		t.Error("a directory ending at the record is a zip, one past it is not")
	}
	text := []byte("a zip ends with PK\x05\x06 and twenty-two bytes of its end record.\n")
	if zipEnd(bytes.NewReader(text), int64(len(text))) >= 0 || Sniff(bytes.NewReader(text), int64(len(text))) == TypeZip {
		t.Error("a text holding PK\\x05\\x06 sniffed as a zip")
	}
}
