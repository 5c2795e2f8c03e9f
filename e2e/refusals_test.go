package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/config"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

// followLog runs a mail log follower for cfg's limits on path, as milterd
// would, until the test ends.
func followLog(t *testing.T, f *limits.Follower, cfg *config.Config, res *setup.Resources) *harness.LogBuffer {
	t.Helper()
	buf := &harness.LogBuffer{}
	log := harness.Logger(t, buf)
	f.Engine, f.Log = mustEngine(t, cfg, res, log), log
	if f.PosFile == "" {
		f.PosFile = filepath.Join(cfg.StateDir, "maillog.pos")
	}
	if f.Poll == 0 {
		f.Poll = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return buf
}

// mustEngine is the limits engine milterd builds from cfg on res.
func mustEngine(t *testing.T, cfg *config.Config, res *setup.Resources, log *slog.Logger) *limits.Engine {
	t.Helper()
	eng, err := setup.LimitsEngine(cfg, res.Store, log)
	if err != nil {
		t.Fatal(err)
	}
	eng.Observer = res.Metrics // as setup.Build does
	return eng
}

func counts(t *testing.T, st limits.Store, key string) (undeliverable, refused int) {
	t.Helper()
	u, err := st.Undeliverables(context.Background(), key, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Refused(context.Background(), key, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return len(u), len(r)
}

func rcptList(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d@remote.test", prefix, i)
	}
	return out
}

// A receiver that refuses whole messages at end of DATA (Postfix's
// smtp-sink -f .): a message to 12 of its recipients is one refused
// message, not 12 undeliverable recipients, and suspends nobody with the
// shipped defaults (undeliverable_per_hour 10, refused_messages_per_hour
// 20); the 20th refused message in an hour does suspend, and the account's
// next message is refused saying why.
func TestMessageRefusedAtEndOfDataThroughPostfix(t *testing.T) {
	t.Parallel()
	sink := harness.StartRefusingSink(t, ".")
	s, cfg, res := harness.ConfigStack(t, "limits:\n  contact: abuse@isp.test\n", harness.MTAConfig{RelayPort: sink})
	followLog(t, &limits.Follower{Path: s.Postfix.Log, FromStart: true}, cfg, res)
	c := s.Dial(t)
	if r := c.Send("alice@customer.test", rcptList("friend", 12), harness.Msg("alice@customer.test", "friend0@remote.test", "party", "see you")); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	waitFor(t, "the refused message", func() bool { _, r := counts(t, res.Store, harness.User); return r == 1 })
	// Every bounced line of it read: the 12th recipient's too.
	waitFor(t, "12 bounced lines", func() bool { return strings.Count(s.Postfix.LogText(), "status=bounced") >= 12 })
	time.Sleep(300 * time.Millisecond)
	if u, r := counts(t, res.Store, harness.User); u != 0 || r != 1 {
		t.Fatalf("a message to 12 recipients refused at end of DATA: %d undeliverable recipients, %d refused messages; want 0 and 1", u, r)
	}
	if all, _ := res.Store.Suspensions(context.Background()); len(all) != 0 {
		t.Fatalf("suspended for one refused message: %+v", all)
	}
	ev, _ := res.Store.Refused(context.Background(), harness.User, time.Now().Add(-time.Hour))
	if ev[0].Status != "5.3.0" || !strings.Contains(ev[0].Text, "in reply to end of DATA command") || ev[0].QueueID == "" {
		t.Errorf("evidence %+v", ev[0])
	}
	// 19 more: the 20th within the hour suspends.
	for i := 1; i < 20; i++ {
		if r := c.Send("alice@customer.test", []string{fmt.Sprintf("list%d@remote.test", i), "other@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", fmt.Sprint("m", i), "spam")); r.Err != nil {
			t.Fatalf("send %d: %s", i, harness.Reply(r.Err))
		}
	}
	var susp *limits.Suspension
	waitFor(t, "the suspension", func() bool {
		_, susp, _ = res.Store.Usage(context.Background(), harness.User, time.Now())
		return susp != nil
	})
	if susp.Reason != "20 refused messages within an hour (threshold 20)" || len(susp.Evidence) != 20 || susp.Evidence[0].Kind != limits.KindMessage {
		t.Errorf("suspension %q with %d pieces of evidence", susp.Reason, len(susp.Evidence))
	}
	if u, _ := counts(t, res.Store, harness.User); u != 0 {
		t.Errorf("%d undeliverable recipients counted", u)
	}
	r := s.Dial(t).Send("alice@customer.test", []string{"friend@remote.test"}, harness.Msg("alice@customer.test", "friend@remote.test", "after", "hi"))
	if got := harness.Reply(r.Err); got != "451 4.7.1 Account suspended for mail its receivers refused; contact abuse@isp.test" {
		t.Errorf("after the suspension: %q", got)
	}
	// The metrics count each message once, not each of its bounce lines.
	mfs, _ := res.Metrics.Registry.Gather()
	refused, suspensions := -1.0, -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "outguard_refused_messages_total":
				refused = m.GetCounter().GetValue()
			case "outguard_suspensions_total":
				suspensions = m.GetCounter().GetValue()
			}
		}
	}
	if refused != 20 || suspensions != 1 {
		t.Errorf("outguard_refused_messages_total %v, outguard_suspensions_total %v; want 20 and 1", refused, suspensions)
	}
}

// Accounts keyed by a trusted relay's header are known only at end of
// message: the recipients Postfix refused at RCPT before are kept and
// charged then, address failures one each and a policy refusal (5.7.1)
// once for the message. Without the header the relay's address is the
// account, and is charged the same way.
func TestHeaderKeyedAccountCountsRcptRefusals(t *testing.T) {
	t.Parallel()
	access := map[string]string{}
	for _, a := range rcptList("gone", 5) {
		access[a] = "REJECT 5.1.1 no such user"
	}
	for _, a := range rcptList("blocked", 3) {
		access[a] = "REJECT 5.7.1 this recipient refuses your mail"
	}
	s, _, res := harness.ConfigStack(t, `
trusted_networks: [127.0.0.1/32]
limits:
  trusted_key: header
  trusted_header: X-Webmail-User
`, harness.MTAConfig{RcptAccess: access})
	web := harness.Dial(t, s.Postfix.Addr(), "", "")
	rcpts := append(append(rcptList("gone", 5), rcptList("blocked", 3)...), "ok@remote.test")
	r := web.Send("dave@customer.test", rcpts, harness.Msg("dave@customer.test", "ok@remote.test", "from webmail", "hi", "X-Webmail-User: Dave"))
	if r.Err != nil || len(r.Rcpt) != 8 {
		t.Fatalf("webmail: %s, %d refused recipients", harness.Reply(r.Err), len(r.Rcpt))
	}
	if u, m := counts(t, res.Store, "dave"); u != 5 || m != 1 {
		t.Errorf("dave: %d undeliverable recipients, %d refused messages; want 5 and 1", u, m)
	}
	if u, m := counts(t, res.Store, "ip:127.0.0.1"); u != 0 || m != 0 {
		t.Errorf("the relay charged: %d, %d", u, m)
	}
	// No header: the relay's address.
	r = web.Send("www@customer.test", []string{"gone0@remote.test", "ok@remote.test"}, harness.Msg("www@customer.test", "ok@remote.test", "no header", "hi"))
	if r.Err != nil {
		t.Fatalf("without the header: %s", harness.Reply(r.Err))
	}
	if u, _ := counts(t, res.Store, "ip:127.0.0.1"); u != 1 {
		t.Errorf("the relay's address: %d undeliverable recipients, want 1", u)
	}
}

// Real Sendmail in front of a receiver refusing at end of DATA: Sendmail
// logs the refusal of all the message's recipients in one line
// ("to=<a>,<b>, ... dsn=5.3.0, reply=500 ...") after "SMTP DATA-2 protocol
// error": one refused message. A recipient Sendmail itself refuses at RCPT
// is charged to the session's login, and no longer once the session's
// process says it is over.
func TestSendmailRefusals(t *testing.T) {
	maillog := filepath.Join(t.TempDir(), "mail.log")
	harness.StartSyslog(t, maillog)
	sink := harness.StartRefusingSink(t, ".")
	s, cfg, res := harness.ConfigStack(t, "limits: {}\n", harness.MTAConfig{Sendmail: true, RelayPort: sink,
		RcptAccess: map[string]string{"gone@remote.test": "REJECT 5.1.1 no such user"}})
	followLog(t, &limits.Follower{Path: maillog, FromStart: true}, cfg, res)
	c := harness.Dial(t, s.Postfix.Addr(), "bob", "secret-bob")
	r := c.Send("bob@customer.test", append(rcptList("friend", 12), "gone@remote.test"), harness.Msg("bob@customer.test", "friend0@remote.test", "party", "hi"))
	if r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	c.Quit()
	var b []byte
	for i := 0; i < 600 && !strings.Contains(string(b), "return to sender"); i++ {
		time.Sleep(50 * time.Millisecond)
		b, _ = os.ReadFile(maillog)
	}
	time.Sleep(500 * time.Millisecond)
	if u, m := counts(t, res.Store, "bob"); u != 1 || m != 1 {
		t.Fatalf("bob: %d undeliverable recipients (want gone@ only), %d refused messages (want 1)\n%s", u, m, b)
	}
}

// Real Sendmail expiring a message in its queue (Timeout.queuereturn):
// "DSN: Cannot send message for …" names no recipient; the recipient still
// deferred is charged, never the one delivered before.
func TestSendmailExpiry(t *testing.T) {
	maillog := filepath.Join(t.TempDir(), "mail.log")
	harness.StartSyslog(t, maillog)
	s, cfg, res := harness.ConfigStack(t, "limits: {}\n", harness.MTAConfig{Sendmail: true})
	followLog(t, &limits.Follower{Path: maillog, FromStart: true}, cfg, res)
	s.Sink.Defer("busy@remote.test")
	c := harness.Dial(t, s.Postfix.Addr(), "bob", "secret-bob")
	if r := c.Send("bob@customer.test", []string{"busy@remote.test", "ok@remote.test"}, harness.Msg("bob@customer.test", "ok@remote.test", "x", "hi")); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	c.Quit()
	var b []byte
	waitFor(t, "the first attempt", func() bool { b, _ = os.ReadFile(maillog); return strings.Contains(string(b), "stat=Sent") })
	time.Sleep(1100 * time.Millisecond)
	harness.SendmailQueueRun(t, s.Postfix, "Timeout.queuereturn=1s")
	waitFor(t, "the expiry", func() bool {
		b, _ = os.ReadFile(maillog)
		return strings.Contains(string(b), "DSN: Cannot send message for")
	})
	waitFor(t, "the expired recipient counted", func() bool { u, _ := counts(t, res.Store, "bob"); return u >= 1 })
	time.Sleep(500 * time.Millisecond)
	evs, _ := res.Store.Undeliverables(context.Background(), "bob", time.Now().Add(-time.Hour))
	if len(evs) != 1 || evs[0].Rcpt != "busy@remote.test" || evs[0].Status != "4.4.7" {
		t.Fatalf("bob charged %+v, want busy@ only (ok@ was delivered)\n%s", evs, b)
	}
}
