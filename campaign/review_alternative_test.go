package campaign

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// junkParts is phishing copy i as HTML in a multipart of the given
// subtype, with before text/plain parts of n random words each ahead of
// it and after behind it.
func junkParts(rng *rand.Rand, i int, subtype string, before, after, n int) (string, []byte) {
	rcpt, h, b := phishBody(i)
	h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: multipart/"+subtype+"; boundary=\"BB\"", 1)
	var m strings.Builder
	m.WriteString(h + "\n\n")
	plain := func() {
		m.WriteString("--BB\nContent-Type: text/plain; charset=utf-8\n\n" + junk(rng, n) + "\n")
	}
	for range before {
		plain()
	}
	m.WriteString("--BB\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>" + strings.ReplaceAll(b, "\n\n", "</p><p>") + "</p></body></html>\n")
	for range after {
		plain()
	}
	m.WriteString("--BB--\n")
	return rcpt, []byte(m.String())
}

// TestReviewAlternativeJunk: random words in the text/plain alternative
// that an HTML reader never sees must not hide the HTML's shared text:
// 2000 words, 50 000 (past MaxText), and MaxTextParts+4 such
// alternatives are found at the 5th account. Before: never in 40 (one
// bottom-MaxKeys sample of both parts' runs, and MaxText for the whole
// message, spent on the first part). The bound: MaxTextParts parts shown
// after it leave the text no keys (not found).
func TestReviewAlternativeJunk(t *testing.T) {
	for _, c := range []struct {
		name                 string
		subtype              string
		before, after, words int
		want                 int
	}{
		{"2000", "alternative", 1, 0, 2000, 5},
		{"pastMaxText", "alternative", 1, 0, 50000, 5},
		{"manyParts", "alternative", MaxTextParts + 4, 0, 600, 5},
		{"bound", "mixed", 0, MaxTextParts, 600, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(28, uint64(c.words)))
			if at := foundAt(t, 40, func(i int) (string, []byte) {
				return junkParts(rng, i, c.subtype, c.before, c.after, c.words)
			}); at != c.want {
				t.Fatalf("found at account %d, want %d", at, c.want)
			}
		})
	}
}
