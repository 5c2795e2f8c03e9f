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

// TestReviewSLMUnauthenticatedSelfThroughPostfix (review slm, claim 2):
// through Postfix with smtpd_sender_login_maps,
// reject_authenticated_sender_login_mismatch (as
// TestCampaignSenderLoginMapsThroughPostfix) and
// campaign.sender_login_maps: true, the envelope sender is bound for SASL
// clients only. A phishing run through accounts the milter keys without
// a SASL login, customers' relays permitted by mynetworks (each client
// address an account, ip:127.0.0.N, the shipped trusted_key: ip) or stolen
// webmail accounts (trusted_key: header, X-Webmail-User, the example
// config's webmail setting), sends each victim at the shared domain its
// copy with MAIL FROM the victim: Postfix accepts it (no login to bind),
// the milter takes the victim for the sender's own address, and 8
// accounts' copies make no campaign, nobody suspended. Without the
// setting the same run is found at the fifth (TestReviewSLMUnauthenticatedSelf).
func TestReviewSLMUnauthenticatedSelfThroughPostfix(t *testing.T) {
	for _, c := range []struct {
		keyed string
		bound bool
	}{{"ip", false}, {"ip", true}, {"header", true}} {
		keyed, bound := c.keyed, c.bound
		t.Run(fmt.Sprintf("%s/sender_login_maps=%v", keyed, bound), func(t *testing.T) {
			yaml := campaignYAML(t, "sqlite", filepath.Join(t.TempDir(), "alerts"), fmt.Sprintf("[isp.test], sender_login_maps: %v", bound))
			yaml = "trusted_networks: [127.0.0.0/8, '::1/128']\n" + yaml
			if keyed == "header" {
				yaml = strings.Replace(yaml, "limits:\n  store: sqlite\n", "limits:\n  store: sqlite\n  trusted_key: header\n  trusted_header: X-Webmail-User\n", 1)
			}
			s, _, res := harness.ConfigStack(t, yaml, sendersBound(t, map[string]string{"ab1000": "x"}, "jane.doe0@isp.test ab1000\n"))
			held := 0
			for i := range 8 {
				_, raw := hamgen.Phish(i, i%2 == 1)
				victim := fmt.Sprintf("victim%d@isp.test", i)
				src := "127.0.0.1"
				if keyed == "ip" {
					src = fmt.Sprintf("127.0.0.%d", 20+i)
				} else {
					raw = []byte(fmt.Sprintf("X-Webmail-User: ab%d\n", 2000+i) + string(raw))
				}
				c := harness.DialFrom(t, s.Postfix.Addr(), src, "", "")
				got := harness.Reply(c.Send(victim, []string{victim}, string(raw)).Err)
				c.Quit()
				if got != "250" {
					held++
				}
				t.Logf("copy %d from %s (%s keyed), MAIL FROM = RCPT = %s: %q", i, src, keyed, victim, got)
			}
			sus, _ := res.Store.Suspensions(context.Background())
			list, _ := res.Store.(limits.CampaignStore).Campaigns(context.Background(), time.Time{}, 10)
			if len(list) != 1 || len(sus) < 5 {
				t.Errorf("%s-keyed accounts (no SASL login, Postfix binds no sender), 8 copies of one phishing run each to a victim at the shared domain with MAIL FROM = the victim, sender_login_maps: %v: %d campaigns, %d suspended, %d copies not accepted; want the run found at the fifth account (1 campaign, 5 suspended)", keyed, bound, len(list), len(sus), held)
			}
		})
	}
}

// TestReviewSLMSubdomainCatchAllThroughPostfix (review slm, claim 2):
// Postfix with smtpd_sender_login_maps and
// reject_authenticated_sender_login_mismatch, campaign.sender_login_maps:
// true; 8 business customers' logins (bizN) each own their subdomain of
// the shared domain ("@bizN.isp.test bizN" in the map). Stolen, each sends
// one copy of a phishing run to one of the ISP's consumers,
// victimK@isp.test, with MAIL FROM victimK@bizN.isp.test: Postfix accepts
// it (the login owns the domain), the milter counts the consumer as the
// sender's own address (same local part, same registrable domain), and
// the run is not found: no campaign, nobody suspended. Without the
// setting the same run is found at the fifth (TestReviewSLMSubdomainCatchAllSelf).
func TestReviewSLMSubdomainCatchAllThroughPostfix(t *testing.T) {
	users := map[string]string{}
	var owners strings.Builder
	for i := range 8 {
		u := fmt.Sprintf("biz%d", i)
		users[u] = "secret-" + u
		fmt.Fprintf(&owners, "@biz%d.isp.test %s\n", i, u)
	}
	yaml := campaignYAML(t, "sqlite", filepath.Join(t.TempDir(), "alerts"), "[isp.test], sender_login_maps: true")
	s, _, res := harness.ConfigStack(t, yaml, sendersBound(t, users, owners.String()))
	// Postfix's check is on: biz0 may not send as a consumer.
	c := harness.Dial(t, s.Postfix.Addr(), "biz0", users["biz0"])
	r0 := c.Send("victim0@isp.test", []string{"victim0@isp.test"}, "Subject: x\n\nx\n")
	c.Quit()
	if got := harness.Reply(r0.Rcpt["victim0@isp.test"]); !strings.HasPrefix(got, "553") {
		t.Fatalf("biz0 with MAIL FROM victim0@isp.test: %q, want 553 not owned", got)
	}
	for i := range 8 {
		_, raw := hamgen.Phish(i, i%2 == 1)
		u := fmt.Sprintf("biz%d", i)
		victim, from := fmt.Sprintf("victim%d@isp.test", i), fmt.Sprintf("victim%d@biz%d.isp.test", i, i)
		c := harness.Dial(t, s.Postfix.Addr(), u, users[u])
		got := harness.Reply(c.Send(from, []string{victim}, string(raw)).Err)
		c.Quit()
		t.Logf("copy %d from %s, MAIL FROM %s, RCPT %s: %q", i, u, from, victim, got)
		if got != "250" {
			t.Fatalf("copy %d: %q", i, got)
		}
	}
	sus, _ := res.Store.Suspensions(context.Background())
	list, _ := res.Store.(limits.CampaignStore).Campaigns(context.Background(), time.Time{}, 10)
	if len(list) != 1 || len(sus) < 5 {
		t.Errorf("8 stolen business logins, each owning its subdomain of the shared domain, one copy each to a consumer victimK@isp.test with MAIL FROM victimK@bizN.isp.test (accepted by Postfix's check), sender_login_maps: true: %d campaigns, %d suspended; want the run found at the fifth (1 campaign, 5 suspended)", len(list), len(sus))
	}
}
