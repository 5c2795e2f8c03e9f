package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
)

// Through Postfix, on each store, with the example config's campaign
// defaults and the shipped rules: six WordPress sites' password resets
// (each site's login sending as wordpress@ its own domain), eight
// customers' petition letter to their representative, and eight parents
// passing the school's PDF on are all delivered; no campaign, nobody
// suspended. Then the phishing run from 5 of the same customers is still
// found: the 5 senders suspended. Before: each family was a campaign at
// its fifth account and its senders suspended.
func TestCampaignFamiliesThroughPostfix(t *testing.T) {
	t.Parallel()
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var msgs []hamgen.Message
			for s := range 6 {
				msgs = append(msgs, hamgen.PasswordReset(7, s, 0))
			}
			for i := range 8 {
				m := hamgen.Petition(7, i)
				m.Account = fmt.Sprint("p", i)
				m.From = m.Account + "@customer.test"
				msgs = append(msgs, m)
				m = hamgen.SchoolLetter(7, i)
				m.Account = fmt.Sprint("s", i)
				m.From = m.Account + "@customer.test"
				msgs = append(msgs, m)
			}
			users := map[string]string{}
			for _, m := range msgs {
				users[m.Account] = "secret-" + m.Account
			}
			s, _, res := harness.ConfigStack(t, campaignYAML(t, kind, filepath.Join(t.TempDir(), "alerts")), harness.MTAConfig{Users: users})
			for i, m := range msgs {
				c := harness.Dial(t, s.Postfix.Addr(), m.Account, users[m.Account])
				got := harness.Reply(c.Send(m.From, m.Rcpts, string(m.Raw)).Err)
				c.Quit()
				if got != "250" {
					t.Fatalf("%s message %d of %s: %q", m.Kind, i, m.Account, got)
				}
			}
			s.Sink.Wait(t, len(msgs), 60*time.Second)
			ctx := context.Background()
			if sus, err := res.Store.Suspensions(ctx); err != nil || len(sus) != 0 {
				t.Fatalf("%d suspended (%v), want none", len(sus), err)
			}
			if list, err := res.Store.(limits.CampaignStore).Campaigns(ctx, time.Time{}, 10); err != nil || len(list) != 0 {
				t.Fatalf("campaigns %+v %v", list, err)
			}
			for i := range 5 {
				user := fmt.Sprint("p", i)
				c := harness.Dial(t, s.Postfix.Addr(), user, users[user])
				rcpt, raw := hamgen.Phish(i, false)
				got := harness.Reply(c.Send(user+"@customer.test", []string{rcpt}, string(raw)).Err)
				c.Quit()
				if got != "250" {
					t.Fatalf("phishing copy %d: %q", i, got)
				}
			}
			sus, err := res.Store.Suspensions(ctx)
			if err != nil || len(sus) != 5 {
				t.Fatalf("%d suspended after the run (%v), want its 5 senders", len(sus), err)
			}
			for _, sp := range sus {
				if sp.Signal != limits.SignalCampaign || !strings.HasPrefix(sp.Key, "p") {
					t.Fatalf("suspension %+v", sp)
				}
			}
		})
	}
}
