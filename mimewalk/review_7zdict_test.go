package mimewalk

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestReview7zDictionary: a 7z of 50 tiny files, one LZMA2 (or LZMA)
// stream each, whose coders declare the largest dictionary (LZMA2
// property 39: 3 GiB; LZMA: 4 GiB - 1 bytes). Debian's 7z extracts it;
// the walk allocated each stream's dictionary whole: 300 GiB allocated,
// 9 GiB resident, 53 s for a 2.6 KB attachment. Now each file is read,
// allocating in all less than the declared dictionary of one stream.
func TestReview7zDictionary(t *testing.T) {
	for _, c := range []struct {
		method string
		coder  []byte // flag byte, id, property size
		patch  func(props []byte)
	}{
		{"lzma2", []byte{0x21, 0x21, 0x01}, func(p []byte) { p[0] = 39 }},
		{"lzma", []byte{0x23, 0x03, 0x01, 0x01, 0x05}, func(p []byte) { binary.LittleEndian.PutUint32(p[1:], 1<<32-1) }},
	} {
		f := newFixture(t)
		for i := range 50 {
			f.file(fmt.Sprintf("f%02d.txt", i), []byte(fmt.Sprintf("file %d\n", i)))
		}
		arc := f.sevenZip("a.7z", []string{"-mhc=off", "-ms=off", "-m0=" + c.method}, ".")
		dir := f.dir
		// The header is plain (-mhc=off): patch each coder's properties,
		// then the CRCs of the header and of the start header.
		off, size := binary.LittleEndian.Uint64(arc[12:]), binary.LittleEndian.Uint64(arc[20:])
		h := arc[32+off : 32+off+size]
		n := 0
		for i := 0; ; n++ {
			j := bytes.Index(h[i:], c.coder)
			if j < 0 {
				break
			}
			i += j + len(c.coder)
			c.patch(h[i:])
		}
		if n != 50 {
			t.Fatalf("%s: %d coders patched, want 50", c.method, n)
		}
		binary.LittleEndian.PutUint32(arc[28:], crc32.ChecksumIEEE(h))
		binary.LittleEndian.PutUint32(arc[8:], crc32.ChecksumIEEE(arc[12:32]))
		if err := os.WriteFile(filepath.Join(dir, "b.7z"), arc, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("7z", "t", filepath.Join(dir, "b.7z")).CombinedOutput(); err != nil {
			t.Fatalf("%s: 7z t: %v: %s", c.method, err, out)
		}

		checkDictionary(t, c.method, "a.7z", "application/x-7z-compressed", arc)
	}
}

func readAll(t *testing.T, it *Item) []byte {
	b := make([]byte, it.Data.Size())
	if _, err := it.Data.ReadAt(b, 0); err != nil && len(b) > 0 {
		t.Fatal(err)
	}
	return b
}

// TestReviewZipLZMADictionary: the same for a zip of 50 LZMA members
// (method 14, 7z -tzip -mm=LZMA) whose properties declare a 2 GiB - 1
// dictionary: 100 GiB allocated and 40 s for an 8 KB attachment.
func TestReviewZipLZMADictionary(t *testing.T) {
	f := newFixture(t)
	for i := range 50 {
		f.file(fmt.Sprintf("f%02d.txt", i), bytes.Repeat([]byte(fmt.Sprintf("file %d ", i)), 100))
	}
	arc := f.sevenZip("a.zip", []string{"-tzip", "-mm=LZMA"}, ".")
	dir := f.dir
	// Each local header (APPNOTE 4.3.7), then the member's LZMA header:
	// version (2), properties size (2), lc/lp/pb (1), dictionary (4).
	n := 0
	for i := 0; ; n++ {
		j := bytes.Index(arc[i:], []byte("PK\x03\x04"))
		if j < 0 {
			break
		}
		i += j
		if binary.LittleEndian.Uint16(arc[i+8:]) != 14 {
			t.Fatalf("member %d not LZMA", n)
		}
		d := i + 30 + int(binary.LittleEndian.Uint16(arc[i+26:])) + int(binary.LittleEndian.Uint16(arc[i+28:]))
		binary.LittleEndian.PutUint32(arc[d+5:], 1<<31-1)
		i = d
	}
	if n != 50 {
		t.Fatalf("%d members patched, want 50", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.zip"), arc, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("7z", "t", filepath.Join(dir, "b.zip")).CombinedOutput(); err != nil {
		t.Fatalf("7z t: %v: %s", err, out)
	}
	checkDictionary(t, "zip", "a.zip", "application/zip", arc)
}

// checkDictionary walks arc attached as name: its 50 members, each
// starting "file ", must be read with no finding, allocating under 1 GiB
// in all.
func checkDictionary(t *testing.T, what, name, ctype string, arc []byte) {
	t.Helper()
	msg := attached("dict", ctype, name, arc)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	read := 0
	findings, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), Limits{SpoolDir: t.TempDir()}, func(it *Item) error {
		if it.ArchivePath != "" && bytes.HasPrefix(readAll(t, it), []byte("file ")) {
			read++
		}
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil || len(findings) > 0 || read != 50 {
		t.Errorf("%s: %d of 50 members read, findings %+v, %v", what, read, findings, err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<30 {
		t.Errorf("%s: %d MiB allocated for 50 small members", what, a>>20)
	}
}
