package campaign

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// bulkCopy is phishing copy i with n random words: appended to the text,
// or in HTML in an element the stylesheet css hides (its class "x"),
// with the phishing text in an element of class "p".
func bulkCopy(rng *rand.Rand, i, n int, css string) (string, []byte) {
	rcpt, h, b := phishBody(i)
	if css == "" {
		return rcpt, []byte(h + "\n\n" + b + "\n\n" + junk(rng, n) + "\n")
	}
	h = strings.Replace(h, "text/plain", "text/html", 1)
	html := `<html><head><style>` + css + `</style></head><body><div class="p"><p>` + strings.ReplaceAll(b, "\n\n", "</p><p>") +
		`</p></div><div class="x">` + junk(rng, n) + `</div></body></html>`
	return rcpt, []byte(h + "\n\n" + html)
}

// TestReviewStylesheetHidden: 2000 random words per copy in an element a
// stylesheet rule hides (a class, not an inline style) are unseen, as
// with an inline style: found at the 5th account. Before: never in 40
// (the words crowded the shared text out of the MaxKeys sample). A rule
// that hides only sometimes (@media print) hides nothing here: the text
// shown on screen but hidden in print is still the campaign's.
func TestReviewStylesheetHidden(t *testing.T) {
	for name, css := range map[string]string{
		"class":      `.x { display: none }`,
		"spanClass":  `body{color:#333} div.x, .y {visibility:hidden;}`,
		"mediaPrint": `.x{display:none} @media print { .p { display:none } }`,
	} {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(28, 2000))
			if at := foundAt(t, 40, func(i int) (string, []byte) { return bulkCopy(rng, i, 2000, css) }); at != 5 {
				t.Fatalf("found at account %d, want 5", at)
			}
		})
	}
}

// TestReviewBulkJunk: shown random text appended to each copy must not
// crowd the shared passage out of the bottom-MaxKeys sample: 400, 600
// and 1500 words are found at the 5th account. Before (MaxKeys 128): 400
// at the 23rd, 600 never in 40. The bound: a copy has MaxKeys text keys,
// and with 2000 words the passage keeps too few of them (not found).
func TestReviewBulkJunk(t *testing.T) {
	for _, c := range []struct{ n, want int }{{400, 5}, {600, 5}, {1500, 5}, {2000, 0}} {
		rng := rand.New(rand.NewPCG(28, uint64(c.n)))
		if at := foundAt(t, 40, func(i int) (string, []byte) { return bulkCopy(rng, i, c.n, "") }); at != c.want {
			t.Errorf("%d words: found at account %d, want %d", c.n, at, c.want)
		}
	}
	rcpt, raw := bulkCopy(rand.New(rand.NewPCG(1, 2)), 0, 2000, "")
	if fp := fingerprintOf(t, []string{rcpt}, raw); len(fp.Text) != MaxKeys {
		t.Errorf("%d text keys of 2000 words, want MaxKeys", len(fp.Text))
	}
}
