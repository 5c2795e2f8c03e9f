package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

func msg(subject string) string {
	return harness.Msg("alice@customer.test", "x@remote.test", subject, "body")
}

func TestMessageLimitThroughPostfix(t *testing.T) {
	t.Parallel()
	s, _, _ := harness.ConfigStack(t, `
limits:
  default: {messages_per_hour: 5, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 10}
  users:
    bob: unlimited
`, harness.MTAConfig{})
	c := s.Dial(t)
	for i := range 5 {
		if r := c.Send("alice@customer.test", []string{"x@remote.test"}, msg(fmt.Sprint("m", i))); r.Err != nil {
			t.Fatalf("message %d: %s", i+1, harness.Reply(r.Err))
		}
	}
	r := c.Send("alice@customer.test", []string{"x@remote.test"}, msg("m6"))
	got := harness.Reply(r.Err)
	if !strings.HasPrefix(got, "451 4.7.1 Sending limit reached: 5 messages per hour; try again after ") {
		t.Fatalf("6th message: %q", got)
	}
	// Over the limit at MAIL: the client learns before sending the body,
	// and the refused message is not counted.
	if !strings.Contains(s.Log.String(), "verdict=tempfail check=limits") {
		t.Errorf("no audit line for the limit")
	}
	bob := harness.Dial(t, s.Postfix.Addr(), "bob", "secret-bob")
	for i := range 7 {
		if r := bob.Send("bob@customer.test", []string{"x@remote.test"}, msg(fmt.Sprint("bob", i))); r.Err != nil {
			t.Fatalf("unlimited bob, message %d: %s", i+1, harness.Reply(r.Err))
		}
	}
}

func TestRecipientLimitRefusesTheCrossingRcpt(t *testing.T) {
	t.Parallel()
	s, _, _ := harness.ConfigStack(t, `
limits:
  default: {messages_per_hour: 100, messages_per_day: 100, recipients_per_hour: 3, recipients_per_day: 100, undeliverable_per_hour: 10}
`, harness.MTAConfig{})
	c := s.Dial(t)
	r := c.Send("alice@customer.test", []string{"a@remote.test", "b@remote.test", "c@remote.test", "d@remote.test"}, msg("four"))
	if r.Err != nil {
		t.Fatalf("message with 3 allowed recipients: %s", harness.Reply(r.Err))
	}
	if got := harness.Reply(r.Rcpt["d@remote.test"]); !strings.HasPrefix(got, "451 4.7.1 Sending limit reached: 3 recipients per hour") {
		t.Errorf("4th recipient: %q", got)
	}
	if m := s.Sink.Wait(t, 1, 10*time.Second)[0]; len(m.Rcpts) != 3 {
		t.Errorf("delivered to %v", m.Rcpts)
	}
}

func TestSuspendOnRejectedRecipients(t *testing.T) {
	t.Parallel()
	access, rcpts := harness.RejectAll(11)
	s, _, res := harness.ConfigStack(t, `
limits:
  contact: abuse@isp.test
`, harness.MTAConfig{RcptAccess: access})
	c := s.Dial(t)
	r := c.Send("alice@customer.test", rcpts, msg("spam"))
	for _, a := range rcpts {
		if got := harness.Reply(r.Rcpt[a]); !strings.Contains(got, "5.1.1") {
			t.Fatalf("Postfix did not refuse %s: %q", a, got)
		}
	}
	susp, err := res.Store.Suspensions(context.Background())
	if err != nil || len(susp) != 1 || susp[0].Key != harness.User {
		t.Fatalf("suspensions %+v %v", susp, err)
	}
	if n := len(susp[0].Evidence); n != 10 {
		t.Errorf("suspended with %d pieces of evidence, want the 10 that crossed the threshold", n)
	}
	if ev := susp[0].Evidence[0]; ev.Source != "rcpt" || ev.Status != "5.1.1" || !strings.HasPrefix(ev.Rcpt, "nobody") {
		t.Errorf("evidence %+v", ev)
	}
	// The next message of the account is tempfailed with the suspension.
	r = s.Dial(t).Send("alice@customer.test", []string{"friend@remote.test"}, msg("after"))
	if got := harness.Reply(r.Err); got != "451 4.7.1 Account suspended for sending to too many undeliverable recipients; contact abuse@isp.test" {
		t.Fatalf("after suspension: %q", got)
	}
}

func TestSuspensionPersistsAndUnsuspendTakesEffect(t *testing.T) {
	t.Parallel()
	access, rcpts := harness.RejectAll(10)
	s, cfg, res := harness.ConfigStack(t, "limits: {}\n", harness.MTAConfig{RcptAccess: access})
	s.Dial(t).Send("alice@customer.test", rcpts, msg("spam"))
	// Reopen the store as a restarted milterd would.
	res.Close()
	again, err := setup.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	_, susp, err := again.Store.Usage(context.Background(), harness.User, time.Now())
	if err != nil || !susp.Active(time.Now()) {
		t.Fatalf("suspension after reopening: %+v %v", susp, err)
	}
	if ok, err := again.Store.Unsuspend(context.Background(), harness.User, time.Now()); !ok || err != nil {
		t.Fatalf("unsuspend %v %v", ok, err)
	}
}

// sharedStore starts a store of the kind a fleet shares and returns the
// config lines that point milterd at it, with the limits given.
func sharedStore(t *testing.T, kind, limitLines string) string {
	switch kind {
	case "redis":
		return fmt.Sprintf("limits:\n  store: redis\n  redis: {address: %q}\n%s", harness.StartRedis(t).Addr, limitLines)
	case "postgres":
		return fmt.Sprintf("postgres: {dsn: %q}\nlimits:\n  store: postgres\n%s", harness.StartPostgres(t).DSN, limitLines)
	}
	t.Fatalf("store %s", kind)
	return ""
}

// Two smarthosts (two Postfix, two milterd) on one shared store: 50
// concurrent sessions of one account, half through each, against a limit
// of 20: exactly 20 pass.
func TestTwoMilterdsShareLimitsExactly(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			yaml := sharedStore(t, kind, "  default: {messages_per_hour: 20, messages_per_day: 1000, recipients_per_hour: 1000, recipients_per_day: 1000, undeliverable_per_hour: 10}\n")
			a, _, _ := harness.ConfigStack(t, yaml, harness.MTAConfig{Main: map[string]string{"smtpd_client_connection_count_limit": "0"}})
			b, _, _ := harness.ConfigStack(t, yaml, harness.MTAConfig{Main: map[string]string{"smtpd_client_connection_count_limit": "0"}})
			var wg sync.WaitGroup
			var mu sync.Mutex
			accepted, tempfailed := 0, 0
			for i := range 50 {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := harness.Dial(t, s.Postfix.Addr(), harness.User, harness.Pass)
					r := c.Send("alice@customer.test", []string{"x@remote.test"}, msg(fmt.Sprint("p", i)))
					c.Quit()
					mu.Lock()
					defer mu.Unlock()
					switch got := harness.Reply(r.Err); {
					case r.Err == nil:
						accepted++
					case strings.HasPrefix(got, "451 4.7.1 Sending limit reached"):
						tempfailed++
					default:
						t.Errorf("session %d: %q", i, got)
					}
				}()
			}
			wg.Wait()
			if accepted != 20 || tempfailed != 30 {
				t.Fatalf("accepted %d, tempfailed %d; want exactly 20 and 30", accepted, tempfailed)
			}
		})
	}
}

// An account suspended for the undeliverable recipients it sent through
// one smarthost is refused by the other.
func TestFleetSharesSuspension(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			host1, host2, res2, rcpts := suspendingPair(t, kind)
			host1.Dial(t).Send("alice@customer.test", rcpts, msg("spam"))
			if susp, err := res2.Store.Suspensions(context.Background()); err != nil || len(susp) != 1 {
				t.Fatalf("host 2 sees suspensions %+v %v", susp, err)
			}
			r := host2.Dial(t).Send("alice@customer.test", []string{"friend@remote.test"}, msg("after"))
			if got := harness.Reply(r.Err); got != "451 4.7.1 Account suspended for sending to too many undeliverable recipients; contact abuse@isp.test" {
				t.Fatalf("host 2 after the suspension on host 1: %q", got)
			}
		})
	}
}

// TestBouncesFromTheMailLog: the remote MX (the sink) refuses recipients
// after Postfix queued the message; the follower reads Postfix's log, with
// a rotation and a follower restart in the middle, and suspends the sender.
func TestBouncesFromTheMailLog(t *testing.T) {
	t.Parallel()
	s, cfg, res := harness.ConfigStack(t, `
limits:
  default: {messages_per_hour: 100, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 6}
`, harness.MTAConfig{Main: map[string]string{"bounce_notice_recipient": "postmaster"}})
	for i := range 6 {
		s.Sink.Refuse(fmt.Sprintf("gone%d@remote.test", i))
	}
	log := harness.Logger(t, &harness.LogBuffer{})
	eng, err := setup.LimitsEngine(cfg, res.Store, log)
	if err != nil {
		t.Fatal(err)
	}
	pos := filepath.Join(cfg.StateDir, "maillog.pos")
	follow := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			(&limits.Follower{Path: s.Postfix.Log, PosFile: pos, Engine: eng, Log: log, Poll: 50 * time.Millisecond}).Run(ctx)
			close(done)
		}()
		return func() { cancel(); <-done }
	}
	count := func() int {
		evs, _ := res.Store.Undeliverables(context.Background(), harness.User, time.Now().Add(-time.Hour))
		return len(evs)
	}
	waitCount := func(n int) {
		t.Helper()
		for i := 0; count() < n && i < 200; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if got := count(); got != n {
			t.Fatalf("counted %d undeliverable recipients, want %d\n%s", got, n, s.Postfix.LogText())
		}
	}
	send := func(to ...string) {
		t.Helper()
		if r := s.Dial(t).Send("alice@customer.test", to, msg("to "+to[0])); r.Err != nil {
			t.Fatalf("send: %s", harness.Reply(r.Err))
		}
	}
	stop := follow()
	send("gone0@remote.test", "gone1@remote.test")
	waitCount(2)

	// logrotate's rename, then Postfix reopens (postlogd restarts on
	// reload; Postfix 3.9 has "postfix logrotate" for this).
	if err := os.Rename(s.Postfix.Log, s.Postfix.Log+".1"); err != nil {
		t.Fatal(err)
	}
	if out, err := execPostfix(s.Postfix.Dir, "reload"); err != nil {
		t.Fatalf("postfix reload: %v %s", err, out)
	}
	send("gone2@remote.test")
	waitCount(3)

	// milterd restarts: the follower resumes at its saved position.
	stop()
	send("gone3@remote.test", "gone4@remote.test")
	stop = follow()
	defer func() { stop() }()
	waitCount(5)
	if _, susp, _ := res.Store.Usage(context.Background(), harness.User, time.Now()); susp != nil {
		t.Fatalf("suspended below the threshold")
	}
	start := time.Now()
	send("gone5@remote.test")
	waitCount(6)
	for i := 0; i < 40; i++ {
		if _, susp, _ := res.Store.Usage(context.Background(), harness.User, time.Now()); susp != nil {
			if susp.Evidence[len(susp.Evidence)-1].Source != "log" || susp.Evidence[0].QueueID == "" {
				t.Errorf("evidence %+v", susp.Evidence)
			}
			t.Logf("suspended %v after the sixth message was sent", time.Since(start))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("not suspended after 6 bounces")
}

func execPostfix(dir string, args ...string) (string, error) {
	out, err := exec.Command("postfix", append([]string{"-c", dir}, args...)...).CombinedOutput()
	return string(out), err
}

// PostgreSQL restarted under a smarthost: while it is down every message is
// tempfailed (limits.on_error), none passes unchecked or is lost, and once
// it is back the pool reconnects by itself.
func TestPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	s, _, _ := harness.ConfigStack(t, fmt.Sprintf("postgres: {dsn: %q}\nlimits: {store: postgres}\n", pg.DSN), harness.MTAConfig{})
	send := func(i int) string {
		r := s.Dial(t).Send("alice@customer.test", []string{"x@remote.test"}, msg(fmt.Sprint("m", i)))
		return harness.Reply(r.Err)
	}
	if got := send(0); got != "250" {
		t.Fatalf("before the restart: %q", got)
	}
	pg.Stop()
	for i := 1; i <= 3; i++ {
		if got := send(i); !strings.HasPrefix(got, "451 4.") {
			t.Fatalf("with PostgreSQL down: %q, want a tempfail", got)
		}
	}
	pg.Start()
	if got := send(4); got != "250" {
		t.Fatalf("after the restart: %q (the pool did not reconnect)", got)
	}
	// The two accepted arrive; the tempfailed ones were never queued.
	s.Sink.Wait(t, 2, 20*time.Second)
	time.Sleep(time.Second)
	if n := len(s.Sink.Messages()); n != 2 {
		t.Errorf("%d messages delivered, want the 2 sent while PostgreSQL was up", n)
	}
}
