package campaign

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReviewInvisibleLetters: copies of one text with invisible letters
// (Unicode's Other_Default_Ignorable_Code_Point: the Hangul fillers, a
// Khmer inherent vowel) scattered in its words are one campaign, found
// at the 5th account as the plain copies are; the words read as they
// do without them. Before: never in 40 (they are letters, not format
// characters, and made each copy's words other words).
func TestReviewInvisibleLetters(t *testing.T) {
	fillers := []string{"\u115f", "\u1160", "\u3164", "\uffa0", "\u17b4", "\u17b5"}
	if got := Normalize("ver\u3164ify y\u115four acc\uffa0ount", false, nil); strings.Join(got, " ") != "verify your account" {
		t.Errorf("Normalize: %q", got)
	}
	rng := rand.New(rand.NewPCG(28, 115))
	at := foundAt(t, 40, func(i int) (string, []byte) {
		rcpt, h, b := phishBody(i)
		var o strings.Builder
		for _, r := range b {
			o.WriteRune(r)
			if rng.IntN(3) == 0 && r != ' ' && r != '\n' {
				o.WriteString(fillers[rng.IntN(len(fillers))])
			}
		}
		h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: text/plain; charset=utf-8", 1)
		return rcpt, []byte(h + "\n\n" + o.String())
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}
