package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

// storeYAML is the limits store section for each kind, on a fresh server.
func storeYAML(t *testing.T, kind string) (string, *harness.Redis) {
	if kind == "sqlite" {
		return "", nil
	}
	rd := harness.StartRedis(t)
	return fmt.Sprintf("  store: redis\n  redis: {address: %q}\n", rd.Addr), rd
}

// follow runs a follower on the stack's Postfix log as milterd would, with
// its position in state_dir, until the test ends.
func follow(t *testing.T, s *harness.Stack, eng *limits.Engine, stateDir string, log *harness.LogBuffer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&limits.Follower{Path: s.Postfix.Log, PosFile: filepath.Join(stateDir, "maillog.pos"), Engine: eng, Log: harness.Logger(t, log), Poll: 50 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestUndeliverableFromTheLog runs a real Postfix that expires mail after
// one attempt (maximal_queue_lifetime = 0) in front of a sink that defers
// one recipient of fifteen and accepts the rest: the expiry charges that
// one, never the fourteen delivered. The follower's first start begins at
// the end of the log (an earlier bounce is history, not counted); on Redis,
// a store that hangs while a bounce is read loses nothing and counts it
// once when it is back.
func TestUndeliverableFromTheLog(t *testing.T) {
	for _, kind := range []string{"sqlite", "redis"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			section, rd := storeYAML(t, kind)
			s, cfg, res := harness.ConfigStack(t, "limits:\n"+section+
				"  default: {messages_per_hour: 100, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 5}\n",
				harness.MTAConfig{Main: map[string]string{"maximal_queue_lifetime": "0", "bounce_queue_lifetime": "0"}})
			ctx := context.Background()
			undeliverable := func() []limits.Undeliverable {
				evs, _ := res.Store.Undeliverables(ctx, harness.User, time.Now().Add(-time.Hour))
				return evs
			}
			logHas := func(s1 string, n int) func() bool {
				return func() bool { return strings.Count(s.Postfix.LogText(), s1) >= n }
			}
			send := func(subject string, rcpts ...string) {
				t.Helper()
				if r := s.Dial(t).Send("alice@customer.test", rcpts, msg(subject)); r.Err != nil {
					t.Fatalf("send: %s", harness.Reply(r.Err))
				}
			}

			// History: a bounce logged before milterd ever ran.
			s.Sink.Refuse("old@remote.test")
			send("old", "old@remote.test")
			waitFor(t, "the old bounce in the log", logHas("to=<old@remote.test>", 1))

			var flog harness.LogBuffer
			eng, err := setup.LimitsEngine(cfg, res.Store, harness.Logger(t, &flog))
			if err != nil {
				t.Fatal(err)
			}
			follow(t, s, eng, cfg.StateDir, &flog)
			waitFor(t, "the follower to start", func() bool { return strings.Contains(flog.String(), `from="end (first start)"`) })

			// 15 recipients, one deferred until the message expires.
			var rcpts []string
			for i := range 15 {
				rcpts = append(rcpts, fmt.Sprintf("r%d@remote.test", i))
			}
			s.Sink.Defer("r7@remote.test")
			send("fifteen", rcpts...)
			waitFor(t, "the expiry in the log", logHas("status=expired", 1))
			waitFor(t, "the expiry counted", func() bool { return len(undeliverable()) > 0 })
			time.Sleep(300 * time.Millisecond) // anything more would show now
			evs := undeliverable()
			if len(evs) != 1 || evs[0].Rcpt != "r7@remote.test" || evs[0].Source != "log" || evs[0].Status != "4.4.7" {
				t.Fatalf("the expiry charged %+v; want r7 alone\n%s", evs, s.Postfix.LogText())
			}

			if rd == nil {
				return
			}
			// The store hangs while the next bounce is read.
			s.Sink.RefuseAfter("slow@remote.test", time.Second)
			send("slow", "slow@remote.test")
			rd.Pause()
			waitFor(t, "the slow bounce in the log", logHas("to=<slow@remote.test>", 1))
			time.Sleep(8 * time.Second) // the follower's read fails: go-redis times out after 3 s, and retries once
			rd.Resume()
			waitFor(t, "the slow bounce counted", func() bool { return len(undeliverable()) >= 2 })
			time.Sleep(300 * time.Millisecond)
			if evs := undeliverable(); len(evs) != 2 {
				t.Errorf("after the outage: %+v, want r7 and slow once each", evs)
			}
			if !strings.Contains(flog.String(), "will read again") {
				t.Errorf("the follower never met the outage:\n%s", flog.String())
			}
		})
	}
}

// TestUnlimitedStillSuspends: "unlimited" lifts the rate limits; an
// attacker who takes over a bulk account is still suspended.
func TestUnlimitedStillSuspends(t *testing.T) {
	t.Parallel()
	access, rcpts := harness.RejectAll(10)
	s, _, res := harness.ConfigStack(t, "limits:\n  users:\n    bob: unlimited\n", harness.MTAConfig{RcptAccess: access})
	harness.Dial(t, s.Postfix.Addr(), "bob", "secret-bob").Send("bob@customer.test", rcpts, msg("spam"))
	if _, susp, err := res.Store.Usage(context.Background(), "bob", time.Now()); err != nil || !susp.Active(time.Now()) {
		t.Fatalf("unlimited bob after 10 refused recipients: %+v %v", susp, err)
	}
}

// TestStoreErrorAtRcpt: the store hangs while a refused recipient is being
// counted; limits.on_error (tempfail) answers the message, which is not
// delivered although the store is back by end-of-message.
func TestStoreErrorAtRcpt(t *testing.T) {
	t.Parallel()
	section, rd := storeYAML(t, "redis")
	access, _ := harness.RejectAll(1)
	s, _, _ := harness.ConfigStack(t, "limits:\n"+section, harness.MTAConfig{RcptAccess: access})
	c := s.Dial(t).Raw()
	if err := c.Mail("alice@customer.test", nil); err != nil {
		t.Fatal(err)
	}
	rd.Pause()
	if err := c.Rcpt("nobody0@remote.test", nil); err == nil {
		t.Fatal("Postfix accepted the refused recipient")
	}
	rd.Resume()
	if err := c.Rcpt("friend@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg("after a store error")))
	if got := harness.Reply(w.Close()); !strings.HasPrefix(got, "451 4.7.1 Temporary failure") {
		t.Errorf("end of data after a store error at RCPT: %q", got)
	}
}

// TestAccountKeys: logins fold to lower case; unauthenticated mail from a
// trusted webmail host is keyed by the header it sets; the same header
// from anyone else is removed and keys nothing. A limit reached alerts
// once per window.
func TestAccountKeys(t *testing.T) {
	t.Parallel()
	alerts := filepath.Join(t.TempDir(), "alerts")
	s, _, res := harness.ConfigStack(t, fmt.Sprintf(`
trusted_networks: [127.0.0.1/32]
limits:
  trusted_key: header
  trusted_header: X-Webmail-User
  alert: {command: [sh, -c, 'cat >> "$0"; echo >> "$0"', %q]}
  default: {messages_per_hour: 2, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 10}
`, alerts), harness.MTAConfig{Users: map[string]string{"Carol": "secret-carol"}})
	ctx := context.Background()
	usage := func(key string) int {
		u, _, _ := res.Store.Usage(ctx, key, time.Now())
		return u.MessagesHour
	}
	// Carol logs in as "Carol": counted as carol.
	harness.Dial(t, s.Postfix.Addr(), "Carol", "secret-carol").Send("carol@customer.test", []string{"x@remote.test"}, msg("hi"))
	if usage("carol") != 1 || usage("Carol") != 0 {
		t.Errorf("login case: carol %d, Carol %d", usage("carol"), usage("Carol"))
	}
	// The webmail (trusted, no login) names its user in the header.
	web := harness.Dial(t, s.Postfix.Addr(), "", "")
	webmail := harness.Msg("dave@customer.test", "x@remote.test", "from webmail", "hi", "X-Webmail-User: Dave")
	if r := web.Send("dave@customer.test", []string{"x@remote.test"}, webmail); r.Err != nil {
		t.Fatalf("webmail: %s", harness.Reply(r.Err))
	}
	if usage("dave") != 1 || usage("ip:127.0.0.1") != 0 {
		t.Errorf("webmail user: dave %d, the relay's address %d", usage("dave"), usage("ip:127.0.0.1"))
	}
	// dave's third message in the hour is refused; the abuse desk hears
	// of it once, not on every refusal.
	web.Send("dave@customer.test", []string{"x@remote.test"}, webmail)
	for range 2 {
		r := web.Send("dave@customer.test", []string{"x@remote.test"}, webmail)
		if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1 Sending limit reached: 2 messages per hour") {
			t.Errorf("dave over the limit: %q", got)
		}
	}
	var lines []string
	waitFor(t, "the limit alert", func() bool {
		b, _ := os.ReadFile(alerts)
		lines = strings.Fields(string(b))
		return len(lines) > 0
	})
	time.Sleep(300 * time.Millisecond)
	b, _ := os.ReadFile(alerts)
	if lines = strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 {
		t.Fatalf("alerts: %q, want one", lines)
	}
	var a limits.Alert
	if err := json.Unmarshal([]byte(lines[0]), &a); err != nil || a.Event != "limit" || a.Account != "dave" || a.Limit != 2 || a.Usage == nil || a.Usage.MessagesHour != 2 {
		t.Errorf("alert %s: %v", lines[0], err)
	}
}

// TestAccountHeaderFromUntrustedClient: a client outside trusted_networks
// cannot name an account by header; the header is removed from its mail.
func TestAccountHeaderFromUntrustedClient(t *testing.T) {
	t.Parallel()
	s, _, res := harness.ConfigStack(t, `
trusted_networks: [192.0.2.0/24]
limits:
  trusted_key: header
  trusted_header: X-Webmail-User
`, harness.MTAConfig{})
	forged := harness.Msg("alice@customer.test", "x@remote.test", "forged", "hi", "X-Webmail-User: mallory")
	if r := s.Dial(t).Send("alice@customer.test", []string{"x@remote.test"}, forged); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	got := s.Sink.Wait(t, 1, 20*time.Second)[0]
	if strings.Contains(strings.ToLower(string(got.Data)), "x-webmail-user") {
		t.Errorf("the header from an untrusted client was delivered:\n%s", got.Data)
	}
	if u, _, _ := res.Store.Usage(context.Background(), "mallory", time.Now()); u.MessagesHour != 0 {
		t.Error("the forged header keyed an account")
	}
}
