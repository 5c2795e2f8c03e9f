package mimewalk

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// overlappingSealedZip is a zip of one encrypted (flag bit 0) stored
// member of size bytes, its central directory entry repeated n times:
// n members, every one the same stored bytes at offset 0.
func overlappingSealedZip(t *testing.T, size, n int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "a.bin", Method: zip.Store, Flags: 1, CompressedSize64: uint64(size), UncompressedSize64: uint64(size), CRC32: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte{0x5a}, size)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	eocd := bytes.LastIndex(b, []byte("PK\x05\x06"))
	cdSize := int(binary.LittleEndian.Uint32(b[eocd+12:]))
	cdOff := int(binary.LittleEndian.Uint32(b[eocd+16:]))
	entry := b[cdOff : cdOff+cdSize]
	out := append([]byte{}, b[:cdOff]...)
	for range n {
		out = append(out, entry...)
	}
	end := append([]byte{}, b[eocd:eocd+22]...)
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(n*cdSize))
	binary.LittleEndian.PutUint32(end[16:], uint32(cdOff))
	return append(out, end...)
}

// The seals' hashing counts against max_total (review r4): zipSealed
// hashed every encrypted member's stored bytes through OpenRaw outside
// the walk's budgets, and 1000 central directory entries (max_members)
// naming the same 8 MiB of stored bytes were 8000 MiB hashed for an
// 11 MB message, one core busy until message_timeout. With the shipped
// limits at most MaxTotal (200 MiB, the attachment's own bytes counted
// first) is hashed, the rest unsealed.
func TestSealWithinMaxTotal(t *testing.T) {
	const size, n = 8 << 20, 1000
	arc := overlappingSealedZip(t, size, n)
	msg := attached("sealed", "application/zip", "a.zip", arc)
	sealed, encrypted := 0, 0
	if _, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), Limits{SpoolDir: t.TempDir()}, func(it *Item) error {
		if it.Encrypted {
			encrypted++
		}
		if it.Sealed != "" {
			sealed++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if encrypted != n || sealed == 0 || sealed*size > 200<<20 {
		t.Errorf("an %d MiB zip of %d members over the same stored bytes: %d encrypted, %d sealed (%d MiB hashed), want %d, and some sealed within MaxTotal (200 MiB)",
			size>>20, n, encrypted, sealed, sealed*size>>20, n)
	}
}
