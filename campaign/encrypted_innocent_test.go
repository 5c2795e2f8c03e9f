package campaign

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"
)

// encryptedZip is a zip of one member marked encrypted (ZipCrypto's flag):
// the walk reads no content of it.
func encryptedZip(t *testing.T, name string, rng *rand.Rand) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Flags: 0x1})
	if err != nil {
		t.Fatal(err)
	}
	cipher := make([]byte, 600+rng.IntN(400))
	for i := range cipher {
		cipher[i] = byte(rng.Uint32())
	}
	w.Write(cipher)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Six customers each sending a password-protected zip of their own (a
// payslip, a tax return, scans: different files, names and passwords)
// to their own recipient within the window are no campaign.
func TestEncryptedZipsInnocent(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 99))
	var msgs []string
	for i := range 6 {
		z := encryptedZip(t, fmt.Sprintf("document-%d.pdf", i), rng)
		msgs = append(msgs, fmt.Sprintf("From: <acct%d@isp.example>\nTo: <rcpt%d@remote%d.example>\nSubject: the documents\nMIME-Version: 1.0\n"+
			"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nHere they are, the password comes by phone.\n"+
			"--q\nContent-Type: application/zip\nContent-Disposition: attachment; filename=docs%d.zip\nContent-Transfer-Encoding: base64\n\n%s\n--q--\n",
			i, i, i, i, base64.StdEncoding.EncodeToString(z)))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("six customers' own encrypted zips: %d campaigns, %d suspended", c, s)
	}
}

// One password-protected zip (the same bytes: a run that encrypts its
// file once) from every account is found at the fifth by the archive's
// bytes; re-encrypted per copy it is not (docs/suspension.md).
func TestEncryptedZipRun(t *testing.T) {
	z := encryptedZip(t, "invoice.pdf.exe", rand.New(rand.NewPCG(28, 100)))
	at := foundAt(t, 10, func(i int) (string, []byte) {
		rcpt, _, _ := phishBody(i)
		return rcpt, []byte("From: <x@isp.example>\nTo: <" + rcpt + ">\nSubject: invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n--q\n" +
			"Content-Type: text/plain\n\nPassword: 7781\n--q\nContent-Type: application/zip\nContent-Disposition: attachment; filename=invoice.zip\n" +
			"Content-Transfer-Encoding: base64\n\n" + base64.StdEncoding.EncodeToString(z) + "\n--q--\n")
	})
	if at != 5 {
		t.Fatalf("one encrypted zip from every account: found at account %d, want 5", at)
	}
}
