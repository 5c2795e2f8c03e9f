package campaign

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// r5bShortLures: short lures (a sentence or two and the link), the
// length of most credential phish.
var r5bShortLures = map[string]string{
	"two sentences":   "Your mailbox storage is full and incoming messages are being returned. Sign in within 24 hours to verify your account and restore delivery: %s",
	"three sentences": "Dear user, we detected an unusual sign-in attempt on your email account from a new device. If this was not you, confirm your identity now to avoid suspension. Review activity here: %s",
}

// TestReviewR5bShortLureNameWords: recipientNames still removes up to 6
// words per copy that the sender chooses (4 in the To display name, 2
// in a Cc address at a drop domain: the bound r5a left; the 4 alone do). On a short
// lure, removing a different 6 of its words from each copy leaves the
// copies no near-duplicate: the run is not found at the 5th account
// (control, the same copies without: found at the 5th). A known limit,
// pinned (docs/suspension.md): never found in 40 with 4 or 6 such words
// per copy; a long lure is found at the 5th (TestReviewR5aDisplayNameWords).
func TestReviewR5bShortLureNameWords(t *testing.T) {
	for name, lure := range r5bShortLures {
		for _, mode := range []int{0, 4, 6} {
			hide := mode > 0
			rng := rand.New(rand.NewPCG(55, 2))
			at := foundAt(t, 40, func(i int) (string, []byte) {
				rcpt := fmt.Sprintf("victim%d@remote%d.example", i, i%7)
				body := fmt.Sprintf(lure, phishURL(i))
				to := fmt.Sprintf("To: <%s>", rcpt)
				if hide {
					var words []string
					for _, w := range strings.FieldsFunc(strings.ToLower(fmt.Sprintf(lure, "")), func(r rune) bool { return r < 'a' || r > 'z' }) {
						if len(w) > 2 {
							words = append(words, w)
						}
					}
					var pick []string
					seen := map[string]bool{}
					for _, j := range rng.Perm(len(words)) {
						if !seen[words[j]] {
							seen[words[j]] = true
							pick = append(pick, words[j])
						}
						if len(pick) == 6 {
							break
						}
					}
					to = fmt.Sprintf("To: \"%s\" <%s>", strings.Join(pick[:4], " "), rcpt)
					if mode == 6 {
						to += fmt.Sprintf("\nCc: <%s.%s@drop.example>", pick[4], pick[5])
					}
				}
				return rcpt, []byte("From: Mail Team <team@isp.example>\n" + to + "\nSubject: Mailbox notice\nMIME-Version: 1.0\nContent-Type: text/plain\n\n" + body + "\n")
			})
			t.Logf("%s, %d lure words as names: found at account %d (0: never in 40)", name, mode, at)
			want := 5
			if hide {
				want = 0 // known, pinned
			}
			if at != want {
				t.Errorf("%s, %d lure words per copy as recipients' names: found at account %d (0: never in 40), pinned %d", name, mode, at, want)
			}
		}
	}
}
