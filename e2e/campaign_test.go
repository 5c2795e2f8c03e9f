package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/quarantine"
)

// campaignUsers are the SASL customers of the campaign tests: c0… (the
// stolen accounts) and "news" (a customer's newsletter).
func campaignUsers(n int) map[string]string {
	u := map[string]string{"news": "secret-news"}
	for i := range n {
		u[fmt.Sprint("c", i)] = fmt.Sprint("secret-c", i)
	}
	return u
}

// campaignYAML is the campaign section with the example config's
// defaults (5 accounts, 15m, quarantine, suspend) and shared_domains
// shared (YAML: "[isp.test]"), limits on kind's store.
func campaignYAML(t *testing.T, kind, alerts, shared string) string {
	// The fingerprint on the shipped rules' walk (one parse), and on the
	// campaign's own walk without a rules section (Redis here).
	rules := ""
	if kind != "redis" {
		dir, _ := filepath.Abs("../rules")
		rules = "rules: {dir: " + dir + ", watch: false}\n"
	}
	return rules + spreadStoreYAML(t, kind, fmt.Sprintf("  contact: abuse@isp.test\n  alert: {command: [sh, -c, 'cat >> \"$0\"; echo >> \"$0\"', %q]}\n  users: {news: unlimited}\n", alerts)) +
		"quarantine: {}\ncampaign: {shared_domains: " + shared + "}\n"
}

// Through Postfix, on each store: the same phishing text, each copy with
// its recipient's greeting, name and tracking token, sent by 5 distinct
// SASL customers is delivered 5 times; then every sender is suspended
// (their next message is refused at MAIL FROM with the campaign named),
// the abuse desk is alerted, and the next copy, from a 6th customer, is
// held (250 to the client, delivered to nobody, in the quarantine with
// the campaign as the finding) and its sender suspended too. A newsletter
// from one customer to 500 recipients, sent meanwhile, trips nothing.
// Before #28 every copy was delivered.
func TestCampaignThroughPostfix(t *testing.T) {
	t.Parallel()
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			alerts := filepath.Join(harness.Dir(t, "alerts"), "alerts")
			s, _, res := harness.ConfigStack(t, campaignYAML(t, kind, alerts, "[isp.test]"), harness.MTAConfig{Users: campaignUsers(8)})
			send := func(user string, rcpt string, raw []byte) string {
				c := harness.Dial(t, s.Postfix.Addr(), user, "secret-"+user)
				defer c.Quit()
				return harness.Reply(c.Send(user+"@customer.test", []string{rcpt}, string(raw)).Err)
			}
			// The newsletter, 500 copies on one connection, before and
			// between the campaign's copies.
			news := hamgen.Newsletter(9, 500)
			var wg sync.WaitGroup
			wg.Add(1)
			newsErr := make(chan string, 1)
			go func() {
				defer wg.Done()
				c := harness.Dial(t, s.Postfix.Addr(), "news", "secret-news")
				defer c.Quit()
				for i, m := range news {
					if got := harness.Reply(c.Send("news@customer.test", m.Rcpts, string(m.Raw)).Err); got != "250" {
						newsErr <- fmt.Sprintf("newsletter copy %d: %q", i, got)
						return
					}
				}
			}()
			for i := range 5 {
				rcpt, raw := hamgen.Phish(i, i%2 == 1)
				if got := send(fmt.Sprint("c", i), rcpt, raw); got != "250" {
					t.Fatalf("copy %d: %q", i, got)
				}
			}
			ctx := context.Background()
			sus, err := res.Store.Suspensions(ctx)
			if err != nil || len(sus) != 5 {
				t.Fatalf("%d suspended (%v), want the 5 senders", len(sus), err)
			}
			for _, sp := range sus {
				if sp.Signal != limits.SignalCampaign || !strings.HasPrefix(sp.Key, "c") || len(sp.Sightings) != 1 {
					t.Errorf("suspension %+v", sp)
				}
			}
			rcpt, raw := hamgen.Phish(5, false)
			if got := send("c5", rcpt, raw); got != "250" {
				t.Fatalf("copy 6, from a new account: %q, want 250 (held)", got)
			}
			rcpt, raw = hamgen.Phish(6, false)
			if got := send("c0", rcpt, raw); !strings.HasPrefix(got, "451 4.7.1 Account suspended for sending a mail campaign; contact abuse@isp.test") {
				t.Fatalf("a suspended sender: %q", got)
			}
			wg.Wait()
			select {
			case e := <-newsErr:
				t.Fatal(e)
			default:
			}
			// 5 copies and the newsletter delivered; the 6th held.
			phish := 0
			for _, m := range s.Sink.Wait(t, 505, 60*time.Second) {
				if strings.Contains(string(m.Data), "verify your mailbox") {
					phish++
				}
			}
			if phish != 5 {
				t.Fatalf("%d copies delivered, want 5", phish)
			}
			held, err := res.Quarantine.List(ctx, quarantine.Filter{})
			if err != nil || len(held) != 1 {
				t.Fatalf("quarantine %+v %v", held, err)
			}
			if f := held[0].Findings; len(f) != 1 || f[0].Engine != "campaign" || held[0].User != "c5" {
				t.Fatalf("held %+v", held[0])
			}
			sus, _ = res.Store.Suspensions(ctx)
			if len(sus) != 6 {
				t.Fatalf("%d suspended, want 6 (the 6th sender too); news must not be", len(sus))
			}
			cs := res.Store.(limits.CampaignStore)
			list, err := cs.Campaigns(ctx, time.Time{}, 100)
			if err != nil || len(list) != 1 {
				t.Fatalf("campaigns %+v %v", list, err)
			}
			c, _ := cs.CampaignByID(ctx, list[0].ID)
			if len(c.Accounts) != 6 || c.Copies != 6 || c.Held != 1 {
				t.Fatalf("campaign %+v", c)
			}
			var events []string
			waitFor(t, "the campaign alert", func() bool {
				b, _ := os.ReadFile(alerts)
				events = nil
				// Alerts run at once and each appends: values, not lines.
				dec := json.NewDecoder(strings.NewReader(string(b)))
				for {
					var a limits.Alert
					if dec.Decode(&a) != nil {
						break
					}
					events = append(events, a.Event)
				}
				return strings.Contains(strings.Join(events, " "), "campaign")
			})
		})
	}
}

// Two smarthosts on one store (Redis, PostgreSQL), ten stolen accounts
// sending one copy each at once, half through each: exactly five copies
// are delivered and five held, whatever the order; all ten senders end
// suspended. Then the store (Redis) stops answering: the next message is
// tempfailed (limits.on_error and campaign.on_error, both tempfail: the
// campaign check never passes a message it could not count).
func TestCampaignTwoHosts(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var rd *harness.Redis
			var yaml string
			if kind == "redis" {
				rd = harness.StartRedis(t)
				yaml = fmt.Sprintf("limits:\n  store: redis\n  redis: {address: %q}\nquarantine: {}\ncampaign: {shared_domains: [isp.test]}\n", rd.Addr)
			} else {
				yaml = campaignYAML(t, kind, filepath.Join(t.TempDir(), "alerts"), "[isp.test]")
			}
			users := campaignUsers(10)
			a, _, res := harness.ConfigStack(t, yaml, harness.MTAConfig{Users: users})
			b, _, resB := harness.ConfigStack(t, yaml, harness.MTAConfig{Users: users})
			var wg sync.WaitGroup
			replies := make([]string, 10)
			for i := range 10 {
				wg.Go(func() {
					st := []*harness.Stack{a, b}[i%2]
					user := fmt.Sprint("c", i)
					c := harness.Dial(t, st.Postfix.Addr(), user, "secret-"+user)
					defer c.Quit()
					rcpt, raw := hamgen.Phish(i, false)
					replies[i] = harness.Reply(c.Send(user+"@customer.test", []string{rcpt}, string(raw)).Err)
				})
			}
			wg.Wait()
			for i, r := range replies {
				if r != "250" {
					t.Fatalf("copy %d: %q", i, r)
				}
			}
			count := func() int { return len(a.Sink.Messages()) + len(b.Sink.Messages()) }
			waitFor(t, "five deliveries", func() bool { return count() >= 5 })
			time.Sleep(time.Second) // a sixth would have come by now
			delivered := count()
			ctx := context.Background()
			heldA, _ := res.Quarantine.List(ctx, quarantine.Filter{})
			heldB, _ := resB.Quarantine.List(ctx, quarantine.Filter{})
			if delivered != 5 || len(heldA)+len(heldB) != 5 {
				t.Fatalf("%d delivered, %d held; want 5 and 5", delivered, len(heldA)+len(heldB))
			}
			if sus, _ := res.Store.Suspensions(ctx); len(sus) != 10 {
				t.Fatalf("%d suspended, want 10", len(sus))
			}
			if rd == nil {
				return
			}
			rd.Pause()
			defer rd.Resume()
			c := harness.Dial(t, a.Postfix.Addr(), "news", "secret-news")
			defer c.Quit()
			got := harness.Reply(c.Send("news@customer.test", []string{"x@remote.test"}, harness.Msg("news@customer.test", "x@remote.test", "s", "hello")).Err)
			if !strings.HasPrefix(got, "451 4.7.1") {
				t.Fatalf("with the store down: %q, want 451", got)
			}
		})
	}
}
