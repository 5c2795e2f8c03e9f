package e2e

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"outguard/internal/mailcorpus"
	"outguard/policy"
)

// TestReviewUndecodedMember: an archive member the walk cannot decode,
// though 7-Zip (and Windows Explorer for a zip) extracts it, held a
// program that passed the shipped rules with the example config's
// defaults: the member was emitted empty and malformed (on_malformed:
// accept) and an empty item is no risk. Two real archives, each checked
// to extract with Debian's 7z: a password-protected 7z whose folder lists
// its coders LZMA2 before 7zAES (bound the same way, 7-Zip reads it;
// github.com/bodgit/sevenzip builds coders in list order and fails before
// meeting the cipher, so the walk never learns it is encrypted), and a
// zip deflated with Deflate64 (method 9, which Go's archive/zip lacks).
func TestReviewUndecodedMember(t *testing.T) {
	t.Parallel()
	e := exampleEngine(t)
	pe := mailcorpus.PE()

	swapped := swapAESFirst(t, mailcorpus.SevenZip("invoice.pdf", pe, "-pinvoice2026", "-mhc=off", "-m0=lzma2"))
	if got := extract7z(t, swapped, "invoice.pdf", "-pinvoice2026"); !bytes.Equal(got, pe) {
		t.Fatalf("7z did not extract the reordered archive's program")
	}
	if v, why := scan7z(t, e, swapped); v != policy.Reject && v != policy.Quarantine {
		t.Errorf("encrypted 7z, coders listed decompressor first: %v %s", v, why)
	}

	d64 := mailcorpus.SevenZip("invoice.pdf", pe, "-tzip", "-mm=Deflate64")
	if got := extract7z(t, d64, "invoice.pdf"); !bytes.Equal(got, pe) {
		t.Fatalf("7z did not extract the Deflate64 zip's program")
	}
	if v, why := scanAttached(t, e, "invoice.zip", "application/zip", d64); v != policy.Reject && v != policy.Quarantine {
		t.Errorf("Deflate64 zip: %v %s", v, why)
	}

	// A plain text in the same packagings is not held for it: the text
	// decodes (LZMA2 7z), an empty member is no undecoded one.
	if v, why := scanAttached(t, e, "notes.zip", "application/zip", mailcorpus.SevenZip("notes.txt", nil, "-tzip")); v != policy.Accept {
		t.Errorf("zip of an empty text: %v %s", v, why)
	}
}

// extract7z is the file name extracted from arc by Debian's 7z.
func extract7z(t *testing.T, arc []byte, name string, switches ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), arc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("7z", append(append([]string{"x", "-y", "-oout"}, switches...), "a")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("7z x: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// swapAESFirst rewrites a 7z written with -mhc=off (plain header) whose
// one folder has the coders [7zAES, LZMA2] (bind pair: LZMA2's input from
// 7zAES's output) to list them [LZMA2, 7zAES], the bind pair and the
// unpack sizes to match, and the CRCs of the header and start header.
func swapAESFirst(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	off, size := binary.LittleEndian.Uint64(b[12:]), binary.LittleEndian.Uint64(b[20:])
	h := b[32+off : 32+off+size]
	i := bytes.Index(h, []byte{0x24, 0x06, 0xf1, 0x07, 0x01}) // props, 4-byte id 7zAES
	if i < 1 || h[i-1] != 2 {
		t.Fatal("no folder of two coders, 7zAES first")
	}
	aes := bytes.Clone(h[i : i+6+int(h[i+5])])
	j := i + len(aes)
	lz := bytes.Clone(h[j : j+4]) // 0x21 (props, 1-byte id) 0x21 (LZMA2), 1 byte of props
	if lz[0] != 0x21 || lz[1] != 0x21 || !bytes.Equal(h[j+4:j+7], []byte{1, 0, 0x0c}) {
		t.Fatalf("unexpected folder % x", h[i:j+8])
	}
	k := j + 7 // CodersUnpackSize: 7zAES's output, then LZMA2's
	na := uvarLen(h[k])
	nl := uvarLen(h[k+na])
	var out []byte
	out = append(out, lz...)
	out = append(out, aes...)
	out = append(out, 0, 1, 0x0c) // bind pair: in 0 (LZMA2) from out 1 (7zAES)
	out = append(out, h[k+na:k+na+nl]...)
	out = append(out, h[k:k+na]...)
	copy(h[i:], out)
	binary.LittleEndian.PutUint32(b[28:], crc32.ChecksumIEEE(h))
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[12:32]))
	return b
}

// uvarLen is the length of the 7z number (7zFormat.txt, UINT64) whose
// first byte is c: one more byte for each leading 1 bit.
func uvarLen(c byte) int {
	n := 1
	for m := byte(0x80); m != 0 && c&m != 0; m >>= 1 {
		n++
	}
	return min(n, 9)
}
