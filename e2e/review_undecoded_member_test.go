package e2e

import (
	"bytes"
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

	swapped := mailcorpus.SevenZipAESLast("invoice.pdf", pe)
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

	// An empty member, with nothing to decode, is no undecoded one.
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
