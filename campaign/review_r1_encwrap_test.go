package campaign

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// encZipWith is encryptedZip's archive (one ZipCrypto-flagged member,
// the same ciphertext for the same seed) with an archive comment.
func encZipWith(t *testing.T, comment string) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(28, 100))
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.CreateHeader(&zip.FileHeader{Name: "invoice.pdf.exe", Method: zip.Store, Flags: 0x1, Modified: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	cipher := make([]byte, 600+rng.IntN(400))
	for i := range cipher {
		cipher[i] = byte(rng.Uint32())
	}
	w.Write(cipher)
	if comment != "" {
		z.SetComment(comment)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReviewR1EncryptedZipWrapped (review r1, issue 28 claim 3): "the
// same encrypted zip from every account is found at the fifth"
// (TestEncryptedZipRun). An archive with an encrypted member is keyed by
// the bytes of the outermost attached archive, so the attacker need not
// re-encrypt anything to make the key per copy: the same encrypted
// member (the same ciphertext, the same password) with an archive
// comment of each copy's own; the same encrypted zip put in an outer
// zip made per copy (another timestamp: what re-zipping does, and the
// same files re-zipped per copy are found, TestEvasion28Archive); the
// same encrypted zip gzipped per copy (gzip's mtime). Each copy is a key
// of its own: never found in 10 accounts (want: the 5th, as the
// unchanged zip is).
func TestReviewR1EncryptedZipWrapped(t *testing.T) {
	inner := encZipWith(t, "")
	outer := func(i int) []byte {
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		w, err := z.CreateHeader(&zip.FileHeader{Name: "invoice.zip", Method: zip.Deflate, Modified: time.Date(2026, 12, 1, 9, i, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(inner)
		z.Close()
		return b.Bytes()
	}
	gz := func(i int) []byte {
		var b bytes.Buffer
		g := gzip.NewWriter(&b)
		g.Name = "invoice.zip"
		g.ModTime = time.Date(2026, 12, 1, 9, i, 0, 0, time.UTC)
		g.Write(inner)
		g.Close()
		return b.Bytes()
	}
	cases := []struct {
		name, file, ct string
		att            func(i int) []byte
	}{
		{"the same zip (control)", "invoice.zip", "application/zip", func(int) []byte { return inner }},
		{"the same encrypted member, a zip comment per copy", "invoice.zip", "application/zip", func(i int) []byte { return encZipWith(t, fmt.Sprint("ref ", i)) }},
		{"the same encrypted zip in an outer zip made per copy", "invoice.zip", "application/zip", outer},
		{"the same encrypted zip gzipped per copy", "invoice.zip.gz", "application/gzip", gz},
	}
	var missed []string
	for _, c := range cases {
		at := foundAt(t, 10, func(i int) (string, []byte) {
			rcpt, _, _ := phishBody(i)
			return rcpt, []byte("From: <x@isp.example>\nTo: <" + rcpt + ">\nSubject: invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n--q\n" +
				"Content-Type: text/plain\n\nPassword: 7781\n--q\nContent-Type: " + c.ct + "\nContent-Disposition: attachment; filename=" + c.file + "\n" +
				"Content-Transfer-Encoding: base64\n\n" + base64.StdEncoding.EncodeToString(c.att(i)) + "\n--q--\n")
		})
		t.Logf("%s: found at account %d", c.name, at)
		if at != 5 {
			missed = append(missed, fmt.Sprintf("%s: found at account %d (0: never in 10)", c.name, at))
		}
	}
	if len(missed) > 0 {
		t.Errorf("one encrypted zip, not re-encrypted, not found at the 5th:\n%s", strings.Join(missed, "\n"))
	}
}
