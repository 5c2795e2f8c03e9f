package mimewalk

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
)

// A browser decodes a data: URI whose "base64" is in any case, follows
// spaces after the ';', and whose data holds ASCII whitespace, percent
// escapes or (in an attribute) character references (WHATWG fetch, "data:
// URL processor" and forgiving-base64 decode; HTML character references).
// Each of these hid a program from the walk, and so from the shipped
// executable rule (file_type == "pe").
func TestReviewHTMLBase64Variants(t *testing.T) {
	pe := mailcorpus.PE()
	b64 := base64.StdEncoding.EncodeToString(pe)
	fold := func(sep string) string {
		var b strings.Builder
		for i := 0; i < len(b64); i += 76 {
			b.WriteString(b64[i:min(i+76, len(b64))])
			if i+76 < len(b64) {
				b.WriteString(sep)
			}
		}
		return b.String()
	}
	for name, uri := range map[string]string{
		"upper case":         "data:application/octet-stream;BASE64," + b64,
		"mixed case":         "data:;BaSe64," + b64,
		"space after ;":      "data:application/x-msdownload;  base64," + b64,
		"spaces inside":      "data:;base64," + fold(" "),
		"tabs inside":        "data:;base64," + fold("\t"),
		"form feed inside":   "data:;base64," + fold("\f"),
		"percent escapes":    "data:;base64," + strings.NewReplacer("+", "%2B", "/", "%2f", "=", "%3D").Replace(b64),
		"entities":           "data:;base64," + strings.NewReplacer("+", "&#43;", "/", "&#x2F;", "=", "&equals;").Replace(b64),
		"named entities":     "data:;base64," + strings.NewReplacer("+", "&plus;", "/", "&sol;").Replace(b64),
		"newline entities":   "data:;base64," + fold("&#10;"),
		"percent whitespace": "data:;base64," + fold("%20"),
	} {
		for _, q := range []string{`"`, `'`, ``} {
			page := fmt.Sprintf("<html><body>\xff\xfe<a href=%sx%s>x</a><a download=\"a.exe\" href=%s%s%s>invoice</a>\xc3</body></html>", q, q, q, uri, q)
			msg := "From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + page + "\r\n"
			items, _ := walkAll(t, []byte(msg), Limits{})
			if find(items, TypePE) == nil {
				t.Errorf("%s, quote %q: the program in the page was not decoded", name, q)
			}
		}
	}
}

// HTML smuggling's script decodes a string with atob: a template literal
// (backticks) is as much a JavaScript string as a quoted one.
func TestReviewHTMLBase64TemplateLiteral(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(mailcorpus.PE())
	page := "<html><script>const b = atob(`" + b64 + "`); const u = URL.createObjectURL(new Blob([Uint8Array.from(b, c => c.charCodeAt(0))]));</script></html>"
	msg := "From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n" + page + "\r\n"
	items, _ := walkAll(t, []byte(msg), Limits{})
	if find(items, TypePE) == nil {
		t.Error("the program in a template literal was not decoded")
	}
}

// HTML smuggling cuts the base64 into strings shorter than any threshold
// and joins them in the script: ['TVqQ…', …].join(”) or 'TVqQ…' + ….
func TestReviewHTMLBase64Chunks(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(mailcorpus.PE())
	for _, c := range []struct{ q, sep, pre, post string }{{"'", ",", "[", "].join('')"}, {`"`, " +\n ", "", ""}, {"`", ", ", "[", "].join(``)"}} {
		var parts []string
		for i := 0; i < len(b64); i += 50 {
			parts = append(parts, c.q+b64[i:min(i+50, len(b64))]+c.q)
		}
		page := "<script>var b = atob(" + c.pre + strings.Join(parts, c.sep) + c.post + ");</script>"
		msg := "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n" + page + "\r\n"
		items, _ := walkAll(t, []byte(msg), Limits{})
		if find(items, TypePE) == nil {
			t.Errorf("strings %s-quoted joined by %q: the program was not decoded", c.q, c.sep)
		}
	}
}

// Decoys first: a page carrying max_members embedded files and the
// program after them. The program is past the cap, so the walk must say
// a limit was met (the message is then not passed as scanned); before, it
// stopped at the cap without a word.
func TestReviewHTMLBase64PastTheCap(t *testing.T) {
	decoy := "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("decoy image bytes ", 12)))
	prog := "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(mailcorpus.PE())
	var page strings.Builder
	page.WriteString("<html><body>")
	for range 3 {
		fmt.Fprintf(&page, "<img src=\"%s\">", decoy)
	}
	fmt.Fprintf(&page, "<a download=\"a.exe\" href=\"%s\">invoice</a></body></html>", prog)
	msg := "From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n" + page.String() + "\r\n"
	items, findings := walkAll(t, []byte(msg), Limits{MaxMembers: 3})
	limit := false
	for _, f := range findings {
		limit = limit || f.Kind == "limit" && strings.Contains(f.Detail, "embedded files")
	}
	if find(items, TypePE) == nil && !limit {
		t.Errorf("the program past 3 decoys was neither scanned nor a limit said: %+v", findings)
	}
	items, findings = walkAll(t, []byte(msg), Limits{MaxMembers: 5})
	if find(items, TypePE) == nil || len(findings) != 0 {
		t.Errorf("within the cap: program found %v, findings %+v", find(items, TypePE) != nil, findings)
	}
}
