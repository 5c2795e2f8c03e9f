package campaign

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReviewTinyFont: 2500 random words per copy in a font of 1px (or
// 0.5pt, inline or by a stylesheet's class) are unseen, as in one of
// size 0: found at the 5th account. Before: never in 40 (the words
// crowded the shared text out of the MaxKeys sample). A 2px font and
// one a child sizes again are read.
func TestReviewTinyFont(t *testing.T) {
	for name, css := range map[string]string{
		"px":     `.x { font-size: 1px; line-height: 0 }`,
		"halfPt": `.x{font-size:.5pt}`,
	} {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(28, 2500))
			if at := foundAt(t, 40, func(i int) (string, []byte) { return bulkCopy(rng, i, 2500, css) }); at != 5 {
				t.Fatalf("found at account %d, want 5", at)
			}
		})
	}
	for _, c := range []struct {
		html string
		want string
	}{
		{`<p>shown <span style="font-size:1px">junk</span> words</p>`, "shown words"},
		{`<p>shown <span style="font-size:2px">small</span> words</p>`, "shown small words"},
		{`<p><span style="font-size:1px">shown <b style="font-size:14px">sized</b></span></p>`, "shown sized"},
		{`<p>shown <span style="font-size:0.9em">words</span></p>`, "shown words"},
	} {
		if got := strings.Join(Normalize(c.html, true, nil), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.html, got, c.want)
		}
	}
}
