package campaign

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormalize: any bytes as a text or HTML part, with any recipient
// names: no panic, at most MaxTokens words, each a non-empty lower-case
// word with no digit, no format or control character, at most 40 bytes
// (a link's domain is "url:" and the domain); and the same input gives
// the same words (every host of a fleet must compute the same keys).
// Seeds: testdata/fuzz/FuzzNormalize.
func FuzzNormalize(f *testing.F) {
	f.Add("Dear John,\n\nYour invoice 4711 is at https://pay.example.com/x?t=1\n\n-- \nSig", false, "john.smith")
	f.Add("<p>Hi <b>Ann</b></p><blockquote>quoted</blockquote><a href=\"http://x.example/\">link</a>", true, "ann")
	f.Fuzz(func(t *testing.T, text string, isHTML bool, rcpt string) {
		names := Names(rcpt)
		toks := Normalize(text, isHTML, names)
		if len(toks) > MaxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		for _, tok := range toks {
			if strings.HasPrefix(tok, "url:") {
				continue
			}
			if tok == "" || len(tok) > 40*utf8.UTFMax || names[tok] {
				t.Fatalf("token %q", tok)
			}
			for _, r := range tok {
				if unicode.IsDigit(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || unicode.IsUpper(r) && unicode.ToLower(r) != r {
					t.Fatalf("token %q has %q", tok, r)
				}
			}
		}
		if again := Normalize(text, isHTML, names); strings.Join(again, " ") != strings.Join(toks, " ") {
			t.Fatal("not deterministic")
		}
	})
}
