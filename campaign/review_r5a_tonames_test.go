package campaign

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReviewR5aDisplayNameWords: recipientNames takes every word of the
// To and Cc display names (and of their local parts) for a name a mail
// merge puts in each copy, and normalize drops those words everywhere in
// the text. A run sets each copy's To display name to a random fifth of
// the lure's own words (each copy a different fifth): every copy loses
// different words, and the copies share no passage. The control (the
// same copies with the victim's real name as display name) is found at
// the 5th account. recipientNames now takes a display name of at most 4
// words and 6 words in all: the attacker's best is 4 of the lure's words
// in each copy's display name and 2 more in a second recipient's local
// part (an address of its own): bounded, found at the fifth too.
func TestReviewR5aDisplayNameWords(t *testing.T) {
	for _, frac := range []int{0, 10, 5, 3, -6} {
		rng := rand.New(rand.NewPCG(5, uint64(frac)))
		at := foundAt(t, 40, func(i int) (string, []byte) {
			rcpt, hdr, body := phishBody(i)
			if frac > 0 {
				words := strings.FieldsFunc(strings.ToLower(body), func(r rune) bool {
					return !(r >= 'a' && r <= 'z')
				})
				var pick []string
				for _, w := range words {
					if len(w) > 1 && rng.IntN(frac) == 0 {
						pick = append(pick, w)
					}
				}
				if frac < 0 { // the words the bound leaves: 4 and 2
					pick = nil
					for _, j := range rng.Perm(len(words))[:6] {
						pick = append(pick, words[j])
					}
					hdr += fmt.Sprintf("\nCc: <%s.%s@drop.example>", pick[4], pick[5])
					pick = pick[:4]
				}
				var lines []string
				for _, l := range strings.Split(hdr, "\n") {
					if strings.HasPrefix(l, "To:") {
						l = fmt.Sprintf("To: \"%s\" <%s>", strings.Join(pick, " "), rcpt)
					}
					lines = append(lines, l)
				}
				hdr = strings.Join(lines, "\n")
			}
			return rcpt, []byte(hdr + "\n\n" + body)
		})
		t.Logf("display name of 1/%d of the lure's words (1/0: the control, the real name): found at account %d (0: never in 40)", frac, at)
		if at != 5 {
			t.Errorf("display name of 1/%d of the lure's words per copy: found at account %d (0: never in 40), want 5", frac, at)
		}
	}
}
