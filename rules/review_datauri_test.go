package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
	"outguard/policy"
)

// TestReviewShortDataURI: the HTML scan decoded a data: URI only from 128
// base64 characters (96 bytes), yet the shipped rules match less: a
// program by its ELF magic (an ELF32 header of 52 bytes, as Debian's file
// reads it), and an off-site password form of some 80 bytes, which an
// iframe shows from a data:text/html URI. Both passed unscanned in an
// HTML page; now each is an item of its own and the shipped rules'
// verdict is theirs.
func TestReviewShortDataURI(t *testing.T) {
	e := shipped(t)
	elf := make([]byte, 52) // Elf32_Ehdr: an i386 executable
	copy(elf, "\x7fELF\x01\x01\x01")
	elf[16], elf[18], elf[20] = 2, 3, 1 // e_type EXEC, e_machine 386, e_version 1
	elf[40], elf[42] = 52, 32           // e_ehsize, e_phentsize
	path := filepath.Join(t.TempDir(), "stub")
	if err := os.WriteFile(path, elf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("file", "-b", path).Output()
	if err != nil || !strings.HasPrefix(string(out), "ELF 32-bit LSB executable") {
		t.Fatalf("file(1) reads the stub as %q, %v", out, err)
	}
	form := []byte(`<form action="https://login.example.net/p"><input type="password" name="p"></form>`)
	for _, c := range []struct {
		name, rule, action string
		data               []byte
		page               string
	}{
		{"elf", "executable_attachment", "reject", elf, `<a download="report" href="data:application/octet-stream;base64,%s">report</a>`},
		{"form", "html_password_form_offsite", "quarantine", form, `<iframe src="data:text/html;base64,%s"></iframe>`},
	} {
		b64 := base64.StdEncoding.EncodeToString(c.data)
		if len(b64) >= 128 {
			t.Fatalf("%s: %d base64 characters: not under the old floor", c.name, len(b64))
		}
		page := "<html><body><p>Hello,</p>" + fmt.Sprintf(c.page, b64) + "</body></html>\r\n"
		msg := mailcorpus.Message("short", mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "Hello,\r\n"),
			mailcorpus.Leaf("Content-Type: text/html; charset=utf-8", page)))
		res, err := e.Scan(context.Background(), bytes.NewReader(msg), int64(len(msg)), "alice", "alice@customer.test")
		if err != nil {
			t.Fatal(err)
		}
		var hit bool
		for _, m := range res.Matches() {
			hit = hit || m.Rule == c.rule && strings.Contains(m.Path, "embedded-")
		}
		v := e.Decide(res, func(string) {}, func(string) {})
		if !hit || v.Action != Action(c.action) {
			t.Errorf("%s: a %d-character data: URI: %s on it %v, verdict %s, want %s", c.name, len(b64), c.rule, hit, v.Action, c.action)
		}
	}
}

// TestReviewShortDataURICount: what short data: URIs cost is bounded as
// before: a page of 3000 one-pixel images is max_members items, and the
// rest is a limit finding, not scanned silently.
func TestReviewShortDataURICount(t *testing.T) {
	e := shipped(t)
	e.Limits.MaxMembers = 100
	page := "<html><body>" + strings.Repeat(`<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">`, 3000) + "</body></html>\r\n"
	msg := mailcorpus.Message("pixels", mailcorpus.Leaf("Content-Type: text/html", page))
	res, err := e.Scan(context.Background(), bytes.NewReader(msg), int64(len(msg)), "", "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range res.Items {
		if strings.Contains(it.Path, "embedded-") {
			n++
		}
	}
	var limit bool
	for _, f := range res.Anomalies {
		limit = limit || f.Kind == "limit" && strings.Contains(f.Detail, "embedded files")
	}
	if n != 100 || !limit {
		t.Errorf("%d embedded items of 3000 (want max_members, 100), limit finding %v", n, limit)
	}
	if v := e.Decide(res, func(string) {}, func(string) {}); v.Action == policy.Reject {
		t.Errorf("pixels rejected: %+v", v)
	}
}
