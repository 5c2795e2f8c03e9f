package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
)

// TestReviewDataURISpellings: a browser takes a data: URI in spellings
// the HTML scan did not: without ";base64" (the bytes percent-encoded,
// RFC 2397), and with the comma as a character reference (&#44; or
// &comma;, decoded in an attribute before the URL is parsed). Each hid a
// program from the shipped rules in an HTML page, inline or attached.
func TestReviewDataURISpellings(t *testing.T) {
	e := shipped(t)
	elf := make([]byte, 52) // Elf32_Ehdr: an i386 executable, as in TestReviewShortDataURI
	copy(elf, "\x7fELF\x01\x01\x01")
	elf[16], elf[18], elf[20] = 2, 3, 1
	elf[40], elf[42] = 52, 32
	b64 := base64.StdEncoding.EncodeToString(elf)
	pct := ""
	for _, c := range elf {
		pct += fmt.Sprintf("%%%02X", c)
	}
	for _, c := range []struct{ name, uri string }{
		{"upper", "DATA:APPLICATION/OCTET-STREAM;BASE64," + b64},
		{"percent", "data:application/octet-stream," + pct},
		{"percent-mixed", "data:," + url.PathEscape(string(elf))},
		{"entity-comma", "data:application/octet-stream;base64&#44;" + b64},
		{"named-comma", "data:application/octet-stream;base64&comma;" + b64},
		{"spaced", "data:application/octet-stream; base64 ,\n" + b64[:20] + "\n" + b64[20:]},
	} {
		for _, attached := range []bool{false, true} {
			page := `<html><body><p>Hello,</p><a download="report" href="` + c.uri + `">report</a></body></html>` + "\r\n"
			html := mailcorpus.Leaf("Content-Type: text/html; charset=utf-8", page)
			if attached {
				html = mailcorpus.Attach("text/html", "page.html", []byte(page))
			}
			msg := mailcorpus.Message("spell", mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "Hello,\r\n"), html))
			res, err := e.Scan(context.Background(), bytes.NewReader(msg), int64(len(msg)), "alice", "alice@customer.test")
			if err != nil {
				t.Fatal(err)
			}
			var hit bool
			for _, m := range res.Matches() {
				hit = hit || m.Rule == "executable_attachment" && strings.Contains(m.Path, "embedded-")
			}
			if v := e.Decide(res, func(string) {}, func(string) {}); !hit || v.Action != Action("reject") {
				t.Errorf("%s (attached %v): a program in %.60q: verdict %s", c.name, attached, c.uri, v.Action)
			}
		}
	}
}
