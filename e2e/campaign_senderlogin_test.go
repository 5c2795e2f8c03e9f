package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
)

// Through Postfix binding envelope senders to logins
// (smtpd_sender_login_maps, reject_authenticated_sender_login_mismatch)
// and campaign.sender_login_maps: true, on SQLite (the rule is the
// engine's, the same on every store): 20 signers whose SASL logins are
// user names (ab1000…) unlike their addresses (jane.doe0@isp.test…), each
// sending the committee's petition with their own address in Cc, are all
// delivered: no campaign, nobody suspended. Without the setting this is
// a campaign at the fifth signer (TestSendersBoundAlias). A stolen
// account cannot make a victim's address its own: Postfix refuses MAIL
// FROM an address the login does not own. A phishing run from 5 of the
// accounts, each copy to its victim and the account's own address in Cc,
// is still found: the 5 senders suspended.
func TestCampaignSenderLoginMapsThroughPostfix(t *testing.T) {
	t.Parallel()
	r, msgs := boundPetition(t, "jane.doe%d@isp.test")
	r.innocent(t, msgs)

	// ab1000 sending as another customer, to hide a victim as "self":
	// refused at RCPT (smtpd_delay_reject), never reaching DATA.
	c := harness.Dial(t, r.s.Postfix.Addr(), "ab1000", r.users["ab1000"])
	res1 := c.Send("jane.doe7@isp.test", []string{"jane.doe7@isp.test"}, string(msgs[0].Raw))
	c.Quit()
	if got := harness.Reply(res1.Rcpt["jane.doe7@isp.test"]); res1.Err == nil || !strings.HasPrefix(got, "553 5.7.1") || !strings.Contains(got, "not owned by user ab1000") {
		t.Fatalf("ab1000 with MAIL FROM jane.doe7@isp.test: recipient %q (%v), want Postfix's 553 5.7.1 not owned by user", got, res1.Err)
	}
	var run []string
	for i := range 5 {
		rcpt, raw := hamgen.Phish(i, i%2 == 1)
		if got := r.send(t, msgs[i].Account, msgs[i].From, []string{rcpt, msgs[i].From}, raw); got != "250" {
			t.Fatalf("phishing copy %d from %s: %q", i, msgs[i].Account, got)
		}
		run = append(run, msgs[i].Account)
	}
	if got := r.suspended(t); !slices.Equal(sorted(got), run) {
		t.Fatalf("suspended %v, want the run's senders %v", got, run)
	}
	if list, err := r.res.Store.(limits.CampaignStore).Campaigns(context.Background(), time.Time{}, 10); err != nil || len(list) != 1 {
		t.Fatalf("campaigns %+v %v, want the run", list, err)
	}
}

// boundPetition is 20 signers whose SASL logins (ab1000…) are user names
// unlike their addresses (jane.doe0@isp.test…), each with the committee's
// petition to its five members and their own address, spelt as cc (%d:
// the signer), in Cc; the rig is Postfix binding senders to logins
// (sendersBound) and campaign.sender_login_maps: true on SQLite.
func boundPetition(t *testing.T, cc string) (*campaignRig, []hamgen.Message) {
	t.Helper()
	users := map[string]string{}
	var owners strings.Builder
	var msgs []hamgen.Message
	for i := range 20 {
		m := hamgen.Petition(3, i)
		m.Account, m.From = fmt.Sprintf("ab%d", 1000+i), fmt.Sprintf("jane.doe%d@isp.test", i)
		m.Rcpts = []string{fmt.Sprintf(cc, i)}
		for j := range 5 {
			m.Rcpts = append(m.Rcpts, fmt.Sprintf("member%d@council.example", j))
		}
		msgs = append(msgs, m)
		users[m.Account] = "secret-" + m.Account
		fmt.Fprintf(&owners, "%s %s\n", m.From, m.Account)
	}
	yaml := campaignYAML(t, "sqlite", filepath.Join(t.TempDir(), "alerts"), "[isp.test], sender_login_maps: true")
	s, _, res := harness.ConfigStack(t, yaml, sendersBound(t, users, owners.String()))
	return &campaignRig{s: s, res: res, users: users}, msgs
}

// sendersBound is a Postfix for users that binds envelope senders to
// SASL logins: owners is its smtpd_sender_login_maps ("address login"
// lines), reject_authenticated_sender_login_mismatch enforces it.
func sendersBound(t *testing.T, users map[string]string, owners string) harness.MTAConfig {
	t.Helper()
	maps := filepath.Join(harness.Dir(t, "senders"), "sender_login")
	if err := os.WriteFile(maps, []byte(owners), 0o644); err != nil {
		t.Fatal(err)
	}
	return harness.MTAConfig{Users: users, Main: map[string]string{
		"smtpd_sender_login_maps":   "texthash:" + maps,
		"smtpd_sender_restrictions": "reject_authenticated_sender_login_mismatch",
	}}
}
