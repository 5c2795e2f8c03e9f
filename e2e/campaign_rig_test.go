package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

// campaignRig is one smarthost through Postfix with the campaign section
// of campaignYAML on kind's store, whose SASL customers are the accounts
// of msgs and the extra logins (password "secret-" and the login).
type campaignRig struct {
	s     *harness.Stack
	res   *setup.Resources
	users map[string]string
}

// newCampaignRig starts the rig; shared is campaign.shared_domains as
// YAML ("[isp.test]").
func newCampaignRig(t *testing.T, kind, shared string, msgs []hamgen.Message, extra ...string) *campaignRig {
	t.Helper()
	users := map[string]string{}
	for _, m := range msgs {
		users[m.Account] = "secret-" + m.Account
	}
	for _, u := range extra {
		users[u] = "secret-" + u
	}
	s, _, res := harness.ConfigStack(t, campaignYAML(t, kind, filepath.Join(t.TempDir(), "alerts"), shared), harness.MTAConfig{Users: users})
	return &campaignRig{s: s, res: res, users: users}
}

// send is one message from user's SASL session: the reply code (and
// text past 250).
func (r *campaignRig) send(t *testing.T, user, from string, rcpts []string, raw []byte) string {
	t.Helper()
	c := harness.Dial(t, r.s.Postfix.Addr(), user, r.users[user])
	defer c.Quit()
	return harness.Reply(c.Send(from, rcpts, string(raw)).Err)
}

// innocent sends msgs, each from its account: all accepted and
// delivered, no campaign, nobody suspended.
func (r *campaignRig) innocent(t *testing.T, msgs []hamgen.Message) {
	t.Helper()
	for i, m := range msgs {
		if got := r.send(t, m.Account, m.From, m.Rcpts, m.Raw); got != "250" {
			t.Fatalf("%s message %d of %s: %q", m.Kind, i, m.Account, got)
		}
	}
	ctx := context.Background()
	if sus, err := r.res.Store.Suspensions(ctx); err != nil || len(sus) != 0 {
		t.Fatalf("%d suspended (%v), want none: %+v", len(sus), err, sus)
	}
	if list, err := r.res.Store.(limits.CampaignStore).Campaigns(ctx, time.Time{}, 10); err != nil || len(list) != 0 {
		t.Fatalf("campaigns %+v %v", list, err)
	}
	r.s.Sink.Wait(t, len(msgs), 60*time.Second)
}

// phish sends the phishing run's copy i (its recipient's greeting, name,
// reference and tracking token; HTML alternative on odd copies) from
// user, its envelope sender from(user), with header (a line or "") in
// front of the subject: the reply code.
func (r *campaignRig) phish(t *testing.T, i int, user, from, header string) string {
	t.Helper()
	rcpt, raw := hamgen.Phish(i, i%2 == 1)
	raw = []byte(strings.Replace(string(raw), "Subject:", header+"Subject:", 1))
	return r.send(t, user, from, []string{rcpt}, raw)
}

// suspended are the accounts suspended for a campaign; any other
// suspension fails the test.
func (r *campaignRig) suspended(t *testing.T) []string {
	t.Helper()
	sus, err := r.res.Store.Suspensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, sp := range sus {
		if sp.Signal != limits.SignalCampaign {
			t.Fatalf("suspension %+v", sp)
		}
		keys = append(keys, sp.Key)
	}
	return keys
}

// phishRun sends the run's first copies from senders (user@customer.test
// for a login without a domain), copy i with header mark(i) (nil: none):
// each accepted, and then every sender suspended for the campaign.
func (r *campaignRig) phishRun(t *testing.T, senders []string, mark func(i int) string) {
	t.Helper()
	for i, user := range senders {
		from, header := user, ""
		if !strings.Contains(user, "@") {
			from = fmt.Sprint(user, "@customer.test")
		}
		if mark != nil {
			header = mark(i)
		}
		if got := r.phish(t, i, user, from, header); got != "250" {
			t.Fatalf("phishing copy %d: %q", i, got)
		}
	}
	if got, want := sorted(r.suspended(t)), sorted(senders); !slices.Equal(got, want) {
		t.Fatalf("suspended after the run: %v, want its senders %v", got, want)
	}
}

// customer is m sent by the customer prefix+i (its login, the address
// login@customer.test).
func customer(m hamgen.Message, prefix string, i int) hamgen.Message {
	m.Account = fmt.Sprint(prefix, i)
	m.From = m.Account + "@customer.test"
	return m
}

// innocentThenRunFound is, on each store in parallel: msgs all delivered,
// no campaign, nobody suspended (innocent); then a phishing run from p0
// to p4 (customer "p" 0 to 4) still found, its 5 senders suspended
// (phishRun). The subtests share msgs and only read it.
func innocentThenRunFound(t *testing.T, msgs []hamgen.Message) {
	t.Parallel()
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := newCampaignRig(t, kind, "[isp.test]", msgs)
			r.innocent(t, msgs)
			r.phishRun(t, []string{"p0", "p1", "p2", "p3", "p4"}, nil)
		})
	}
}

// sorted is a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
