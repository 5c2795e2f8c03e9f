package campaign

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// TestReviewR5bConcurrentSessions: make test now runs the campaign
// package without -race but for the seed's two tests. This test drives
// one engine (one store, one seed) from 8 goroutines at once, as
// milterd's sessions do: ham of every family, phish in text and HTML,
// page-site links and free-mail targets, names in To/Cc; and the pure
// functions (urlTarget, mailTarget, asksSecret, Normalize) from the same
// goroutines. Run it under -race: any package-level state written
// after init (a cache, a table an own function edits) shows here. It
// passes (held): no shared mutable state found in campaign/.
func TestReviewR5bConcurrentSessions(t *testing.T) {
	r := newRig(t)
	r.now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	ham := hamgen.Corpus(5, 240, 10*time.Minute)
	links := []string{"https://wa.me/%2B4915112345678", "https://contoso.sharepoint.com/:b:/g/personal/a/EaBc", "https://yоutu.be/AbCdEf",
		"https://www.paypal.com/donate/?hosted_button_id=ABC", "https://chan.t.me", "https://maps.google.com/?q=berlin", "https://api.whatsapp.com/send?phone=49%20151%2012345678"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 30 {
				i := g*30 + k
				var tx *policy.Transaction
				switch i % 3 {
				case 0:
					m := ham[i%len(ham)]
					tx = transaction(t, m.Account, m.Rcpts, m.Raw)
				case 1:
					rcpt, raw := hamgen.Phish(i, i%2 == 0)
					tx = transaction(t, fmt.Sprintf("bot%d@isp.example", i), []string{rcpt}, raw)
				default:
					rcpt := fmt.Sprintf("m%d@remote.example", i)
					raw := fmt.Sprintf("From: <org%d@isp.example>\nTo: \"Maria del Carmen Garcia Lopez\" <%s>\nCc: <anna.b+%d@gmail.com>\nSubject: News\nMIME-Version: 1.0\nContent-Type: text/html\n\n<p>Hi Maria, see <a href=\"%s\">our page</a> or write to club%d@hotmail.co.uk. We will never ask for your password.</p>\n",
						i, rcpt, i, links[i%len(links)], i)
					tx = transaction(t, fmt.Sprintf("org%d@isp.example", i), []string{rcpt}, []byte(raw))
				}
				if _, err := r.eng.CheckMessage(context.Background(), tx); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.commit(context.Background(), tx); err != nil {
					t.Log(err) // the store's own contention, not the point
				}
				urlTarget(links[i%len(links)])
				mailTarget(fmt.Sprintf("a.b+%d@gmail.com", i), r.eng.shared)
				asksSecret("We will never, ever ask for your password.")
				Normalize("<p>Dear Anna, thanks!</p>", true, Names("anna@x.example"))
			}
		}()
	}
	wg.Wait()
}
