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

// Through Postfix, SASL logins that are addresses, campaign.shared_domains
// naming the ISP's consumer domain (isp.test): six staff of one hosted
// company (firma0.example) send their office's out-of-office text set up
// as a client rule (no Auto-Submitted) to the people who wrote to them:
// delivered, no campaign, nobody suspended (before: a campaign at the
// fifth and the staff suspended). Then a run over five stolen consumer
// accounts of isp.test, marked Auto-Submitted: auto-replied, is found at
// the fifth and its senders suspended.
func TestCampaignSharedDomainsThroughPostfix(t *testing.T) {
	t.Parallel()
	var msgs []hamgen.Message
	for k := range 6 {
		m := hamgen.AutoReply(28, 0, k, k)
		m.Raw = []byte(strings.Replace(string(m.Raw), "Auto-Submitted: auto-replied\r\n", "", 1))
		msgs = append(msgs, m)
	}
	users := map[string]string{}
	for _, m := range msgs {
		users[m.Account] = "secret-" + m.Account
	}
	for i := range 5 {
		users[fmt.Sprintf("victim%d@isp.test", i)] = fmt.Sprint("secret-v", i)
	}
	yaml := strings.Replace(campaignYAML(t, "sqlite", filepath.Join(t.TempDir(), "alerts")), "campaign: {}\n", "campaign: {shared_domains: [isp.test]}\n", 1)
	s, _, res := harness.ConfigStack(t, yaml, harness.MTAConfig{Users: users})
	send := func(user, from string, rcpts []string, raw []byte) string {
		c := harness.Dial(t, s.Postfix.Addr(), user, users[user])
		defer c.Quit()
		return harness.Reply(c.Send(from, rcpts, string(raw)).Err)
	}
	for i, m := range msgs {
		if strings.Contains(string(m.Raw), "Auto-Submitted") {
			t.Fatal("the client rule's reply has no Auto-Submitted")
		}
		if got := send(m.Account, m.From, m.Rcpts, m.Raw); got != "250" {
			t.Fatalf("out-of-office %d of %s: %q", i, m.Account, got)
		}
	}
	s.Sink.Wait(t, len(msgs), 60*time.Second)
	ctx := context.Background()
	if sus, err := res.Store.Suspensions(ctx); err != nil || len(sus) != 0 {
		t.Fatalf("%d suspended (%v) for one company's out-of-office text", len(sus), err)
	}
	if list, err := res.Store.(limits.CampaignStore).Campaigns(ctx, time.Time{}, 10); err != nil || len(list) != 0 {
		t.Fatalf("campaigns %+v %v", list, err)
	}
	for i := range 5 {
		user := fmt.Sprintf("victim%d@isp.test", i)
		rcpt, raw := hamgen.Phish(i, false)
		raw = []byte(strings.Replace(string(raw), "Subject:", "Auto-Submitted: auto-replied\nSubject:", 1))
		if got := send(user, user, []string{rcpt}, raw); got != "250" {
			t.Fatalf("phishing copy %d: %q", i, got)
		}
	}
	sus, err := res.Store.Suspensions(ctx)
	if err != nil || len(sus) != 5 {
		t.Fatalf("%d suspended after the run (%v), want its 5 senders", len(sus), err)
	}
	for _, sp := range sus {
		if sp.Signal != limits.SignalCampaign || !strings.HasSuffix(sp.Key, "@isp.test") {
			t.Fatalf("suspension %+v", sp)
		}
	}
}
