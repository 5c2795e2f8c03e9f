package campaign

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/mimewalk"
)

// The patterns linkHosts and mailDomains stand for (issue #32: what the
// fingerprint found with them, before, it must find the same way now).
var (
	linkRE = regexp.MustCompile(`(?i)\b(?:https?|ftp)://([a-z0-9\-._~%]+|\[[0-9a-f:.]+\])`)
	addrRE = regexp.MustCompile(`(?i)[a-z0-9._%+\-]@([a-z0-9\-]+(?:\.[a-z0-9\-]+)+)`)
)

// sameAsRegexp fails when a scanner's findings in text are not the
// regexp's submatches, in order.
func sameAsRegexp(t testing.TB, text string) {
	t.Helper()
	for _, c := range []struct {
		name string
		re   *regexp.Regexp
		scan func(string, func(string))
	}{{"linkHosts", linkRE, linkHosts}, {"mailDomains", addrRE, mailDomains}} {
		var want, got []string
		for _, m := range c.re.FindAllStringSubmatch(text, -1) {
			want = append(want, m[1])
		}
		c.scan(text, func(s string) { got = append(got, s) })
		if !slices.Equal(got, want) {
			t.Fatalf("%s(%q)\n got %q\nwant %q (the regexp's)", c.name, text, got, want)
		}
	}
}

// TestLinkScanMatchesRegexp: the cases where a hand scanner and a
// regexp part ways: case folding beyond ASCII, word boundaries, matches
// next to and inside each other, unclosed brackets, bytes that are no
// UTF-8, and random strings over the patterns' own alphabet.
func TestLinkScanMatchesRegexp(t *testing.T) {
	for _, s := range []string{
		"", "://", "http://", "http://x", "see http://a.example/x and HTTPS://B.Example:8080/",
		"xhttp://no.example _http://no.example 1ftp://no.example (ftp://yes.example)",
		"http://http://twice.example", "https://[::1]/ https://[::1 https://[] https://[g] http://[fe80::1%25eth0]",
		"httpſ://long-s.example htTpS://K\u212aelvin.example \u212a@x.example ſ@y.example \u212ahttp://z.example",
		"éhttp://after-utf8.example \xffhttp://after-invalid.example \xc5http://x.example",
		"a@b.c@d.e", "a@b", "a@b.", "a@.b", "@b.c", "a@@b.c", "x.y+z@mail.example.org.", "me@host-.-x", "ö@x.example",
		"mailto:someone@example.com?subject=hi", "a@b.c.d.e.f", "\u212a@\u212a.\u212a", "ſ@ſ.ſ", "a@b.ſ.\xc5",
		"http://a.example@b.example", "user@http://c.example", "ftp://d.example:21@e.example",
	} {
		sameAsRegexp(t, s)
	}
	alphabet := []string{"h", "t", "p", "s", "f", "H", "T", "P", "S", "F", ":", "/", "//", "://", "@", ".", "-", "_", "[", "]",
		"a", "k", "1", "%", "~", "+", " ", "\u212a", "ſ", "é", "\xc5", "\xff", "http", "https", "ftp", "\n"}
	r := rand.New(rand.NewPCG(32, 1))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		sameAsRegexp(t, b.String())
	}
}

// TestLinkScanCorpus: on every decoded item of the ham corpus and of the
// evasion corpus (issue #28's phishing copies varied the evaders' ways),
// the scanners find exactly what the regexps found: the fingerprint's
// sender sets (links' and addresses' domains) are unchanged byte for
// byte.
func TestLinkScanCorpus(t *testing.T) {
	var msgs [][]byte
	for _, m := range hamgen.Corpus(32, 1500, 24*time.Hour) {
		msgs = append(msgs, m.Raw)
	}
	for _, m := range hamgen.Families(32, 2, time.Hour) {
		msgs = append(msgs, m.Raw)
	}
	for _, m := range hamgen.Newsletter(32, 20) {
		msgs = append(msgs, m.Raw)
	}
	rng := rand.New(rand.NewPCG(32, 2))
	for i := range 40 {
		for _, html := range []bool{false, true} {
			_, raw := hamgen.Phish(i, html)
			msgs = append(msgs, raw)
		}
		_, h, b := phishBody(i)
		msgs = append(msgs, []byte(h+"\n\n"+junk(rng, 60)+"\n\n"+b+"\n\n"+junk(rng, 60)+"\n"))
	}
	items, found := 0, 0
	for _, raw := range msgs {
		if _, err := mimewalk.Walk(context.Background(), bytes.NewReader(raw), int64(len(raw)), mimewalk.Limits{}, func(it *mimewalk.Item) error {
			b, err := io.ReadAll(io.NewSectionReader(it.Data, 0, it.Data.Size()))
			if err != nil {
				return err
			}
			items++
			sameAsRegexp(t, string(b))
			found += len(linkRE.FindAllString(string(b), -1)) + len(addrRE.FindAllString(string(b), -1))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if items < 2*len(msgs) || found < len(msgs) {
		t.Fatalf("%d items and %d links and addresses in %d messages: the corpus was not walked", items, found, len(msgs))
	}
}

// FuzzLinkScan: whatever the text, the scanners find what the regexps
// find.
func FuzzLinkScan(f *testing.F) {
	for _, s := range []string{"see https://a.example/x or mail b@c.example", "httpſ://\u212a.example ſ@x.y", "http://[::1] a@b.c@d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameAsRegexp(t, s) })
}

// BenchmarkLinks: the links of a 10 KiB text+HTML letter's text parts,
// the scanners and the regexps they stand for.
func BenchmarkLinks(b *testing.B) {
	raw := string(message10K())
	raw += "\r\nMore at https://www.example.org/path?x=1 or write to info@example.org.\r\n"
	for _, v := range []struct {
		name string
		run  func()
	}{
		{"scan", func() { linkHosts(raw, func(string) {}); mailDomains(raw, func(string) {}) }},
		{"regexp", func() { linkRE.FindAllStringSubmatch(raw, -1); addrRE.FindAllStringSubmatch(raw, -1) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				v.run()
			}
		})
	}
}
