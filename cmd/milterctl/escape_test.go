package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"outguard/quarantine"
)

// A TAB or LF inside a field (a header value's TAB, a decoded file name's
// LF) neither adds a column nor starts a row of its own in list, show and
// the digest: it is written \x09, \x0a. Before: the terminal writer kept
// them, so a file name could fake rows.
func TestQuarantineFieldsEscaped(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: x\r\nX-Test-Quarantine: kit\tFAKECOL\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n" +
		"Content-Disposition: attachment; filename*=utf-8''invoice%09pdf%0AFAKEROW%20held%20clean\r\n\r\nhello\r\n--b--\r\n"
	if r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)); r.Err != nil {
		t.Fatal(r.Err)
	}
	recs, err := e.store.List(context.Background(), quarantine.Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d held: %v", len(recs), err)
	}
	list, _ := ctl(t, e.cfg, "quarantine", "list")
	show, _ := ctl(t, e.cfg, "quarantine", "show", recs[0].ID)
	digest, _ := ctl(t, e.cfg, "quarantine", "digest")
	for name, out := range map[string]string{"list": list, "show": show, "digest": digest} {
		if strings.Contains(out, "\t") || regexp.MustCompile(`(?m)^\s*FAKEROW`).MatchString(out) || !strings.Contains(out, `kit\x09FAKECOL`) {
			t.Errorf("%s:\n%s", name, out)
		}
	}
	if !strings.Contains(show, `invoice\x09pdf\x0aFAKEROW held clean`) {
		t.Errorf("show does not name the file, escaped:\n%s", show)
	}
}
