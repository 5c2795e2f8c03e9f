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
// the 5th account.
func TestReviewR5aDisplayNameWords(t *testing.T) {
	for _, frac := range []int{0, 10, 5, 3} {
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
