package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
	"outguard/policy"
	"outguard/rules"
)

// sevenZipMethods are the 7z compression methods Debian's 7z writes, ""
// its default (LZMA2, with a BCJ filter for a program).
var sevenZipMethods = []string{"", "-m0=lzma", "-m0=copy", "-m0=deflate", "-m0=bzip2", "-m0=ppmd"}

// TestEncrypted7zEveryArchive: a program in a password-protected 7z is
// held or refused by the shipped rules with the example config's defaults
// whatever the archive's random salt and IV. 7z has no password check:
// decrypted without the key, a stream is noise that its decompressor may
// take without an error (stored: always; LZMA2: when the first byte
// comes out 0x00, 1 in 256), and the walk read the member as an ordinary
// file. 240 archives by Debian's 7z: each method, names encrypted (-mhe)
// or not, a 1 KiB and a 257 KiB member, five names; and the same archives
// without a password, which must not be taken for encrypted ones.
func TestEncrypted7zEveryArchive(t *testing.T) {
	t.Parallel()
	e := exampleEngine(t)
	small := mailcorpus.PE()
	noise := make([]byte, 256<<10)
	rng := rand.NewChaCha8([32]byte{7})
	rng.Read(noise)
	large := append(append([]byte(nil), small...), noise...)
	names := []string{"invoice.pdf", "report.exe", "scan 2026-11.jpg", "Rechnung_ü.doc", "docs/setup.msi"}
	failed, total := map[string]int{}, 0
	for i := range 240 {
		method, hidden, big, name := sevenZipMethods[i%6], i/6%2 == 1, i/12%2 == 1, names[i/24%5]
		data, switches := small, []string{"-pinvoice2026"}
		if big {
			data = large
		}
		if method != "" {
			switches = append(switches, method)
		}
		if hidden {
			switches = append(switches, "-mhe=on")
		}
		total++
		if v, why := scan7z(t, e, mailcorpus.SevenZip(name, data, switches...)); v != policy.Reject && v != policy.Quarantine {
			key := fmt.Sprintf("%q %d bytes %s", name, len(data), strings.Join(switches[1:], " "))
			failed[key]++
			t.Logf("accepted: %s: %v %s", key, v, why)
		}
	}
	if len(failed) > 0 {
		n, keys := 0, []string{}
		for k, c := range failed {
			n += c
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("%d of %d encrypted 7z archives holding a program were accepted: %s", n, total, strings.Join(keys, "; "))
	}
	// The same archives without a password: a text file is accepted, the
	// program refused as a program (not held as encrypted).
	text := bytes.Repeat([]byte("Minutes of the meeting, nothing to see.\r\n"), 7000)
	for _, method := range sevenZipMethods {
		var switches []string
		if method != "" {
			switches = append(switches, method)
		}
		if v, why := scan7z(t, e, mailcorpus.SevenZip("minutes.txt", text, switches...)); v != policy.Accept {
			t.Errorf("plain 7z %q of a text: %v %s", method, v, why)
		}
		if v, why := scan7z(t, e, mailcorpus.SevenZip("report.exe", large, switches...)); v != policy.Reject || strings.Contains(why, "encrypted") {
			t.Errorf("plain 7z %q of a program: %v %s", method, v, why)
		}
	}
}

// scan7z is the verdict on a message with arc attached as invoice.7z.
func scan7z(t *testing.T, e *rules.Engine, arc []byte) (policy.Action, string) {
	t.Helper()
	return scanAttached(t, e, "invoice.7z", "application/x-7z-compressed", arc)
}

// scanAttached is the verdict on a message with data attached as name.
func scanAttached(t *testing.T, e *rules.Engine, name, ctype string, data []byte) (policy.Action, string) {
	t.Helper()
	msg := mailcorpus.Message("invoice", mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "See the attached invoice.\r\n"),
		mailcorpus.Attach(ctype, name, data)))
	res, err := e.Scan(context.Background(), bytes.NewReader(msg), int64(len(msg)), "alice", "alice@customer.test")
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	v := e.Decide(res, func(s string) { notes = append(notes, s) }, func(s string) { notes = append(notes, s) })
	return v.Action, fmt.Sprintf("%s (notes %q, findings %+v)", v.Reason, notes, res.Anomalies)
}

// TestEncryptedRARMember: a RAR whose file is encrypted but whose names
// are not (rar -p without -hp) is held by the shipped rules whatever the
// member's name and bytes: rardecode reads the file header's flag; the
// walk took the member's read error for malformed MIME.
func TestEncryptedRARMember(t *testing.T) {
	t.Parallel()
	e := exampleEngine(t)
	pe := mailcorpus.PE()
	for i, name := range []string{"invoice.pdf", "report.exe", "scan.jpg", "docs/notes.txt"} {
		data := append(bytes.Repeat(pe, 1<<(2*i)), make([]byte, i)...) // 1 KiB to 64 KiB
		if v, why := scanAttached(t, e, "archive.rar", "application/vnd.rar", mailcorpus.RAREncrypted(name, data)); v != policy.Quarantine {
			t.Errorf("%s, %d bytes, encrypted: %v %s", name, len(data), v, why)
		}
	}
	if v, why := scanAttached(t, e, "archive.rar", "application/vnd.rar", mailcorpus.RAR("notes.txt", []byte("nothing to see\r\n"))); v != policy.Accept {
		t.Errorf("plain RAR of a text: %v %s", v, why)
	}
}
