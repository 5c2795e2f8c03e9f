package campaign

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// encryptedZipWith is a zip of one encrypted member (ZipCrypto's flag)
// of its own bytes, with what a tool adds unencrypted: a directory
// entry (7-Zip and WinZip zipping a folder: no data, no encryption
// flag), or a short readme every zip of that software carries.
func encryptedZipWith(t *testing.T, rng *rand.Rand, i int, extra string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	dir := fmt.Sprintf("Scans-%d/", i)
	switch extra {
	case "directory entry":
		if _, err := z.CreateHeader(&zip.FileHeader{Name: dir, Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	case "the software's readme":
		w, _ := z.Create("LIESMICH.txt")
		w.Write([]byte("Dieses Archiv ist mit einem Passwort geschuetzt. Das Passwort erhalten Sie auf einem anderen Weg.\r\n"))
	}
	w, err := z.CreateHeader(&zip.FileHeader{Name: dir + "scan.pdf", Method: zip.Store, Flags: 0x1})
	if err != nil {
		t.Fatal(err)
	}
	cipher := make([]byte, 600+rng.IntN(400))
	for k := range cipher {
		cipher[k] = byte(rng.Uint32())
	}
	w.Write(cipher)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReviewEncryptedZipsInnocentShapes (reviewer ro, issue 28 claims
// 3/4): TestEncryptedZipsInnocent's six customers, each sending a
// password-protected zip of their own, as the tools make them: a folder
// zipped (its directory entry is no encrypted member), a payroll or
// tax program's zip with its unencrypted readme. Want: no campaign.
func TestReviewEncryptedZipsInnocentShapes(t *testing.T) {
	var bad []string
	for _, extra := range []string{"none (control)", "directory entry", "the software's readme"} {
		rng := rand.New(rand.NewPCG(28, 98))
		var msgs []string
		for i := range 6 {
			z := encryptedZipWith(t, rng, i, extra)
			msgs = append(msgs, fmt.Sprintf("From: <acct%d@isp.example>\nTo: <rcpt%d@remote%d.example>\nSubject: the documents\nMIME-Version: 1.0\n"+
				"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\n%s\n"+
				"--q\nContent-Type: application/zip\nContent-Disposition: attachment; filename=docs%d.zip\nContent-Transfer-Encoding: base64\n\n%s\n--q--\n",
				i, i, i, []string{"Here they are, the password comes by phone.", "Anbei die Unterlagen.", "As promised.", "Scans attached", "Die Lohnabrechnung", "Documents"}[i], i, base64.StdEncoding.EncodeToString(z)))
		}
		if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
			bad = append(bad, fmt.Sprintf("%s: %d campaigns, %d customers suspended", extra, c, s))
		}
	}
	if len(bad) > 0 {
		t.Errorf("six customers' own encrypted zips:\n%s", strings.Join(bad, "\n"))
	}
}
