package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// gtube is the pattern Debian's rspamd rejects.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Through Postfix with Debian's rspamd and its stock rules, on each store:
// a GTUBE message from an authenticated customer is refused, with
// rspamd's action and score in the audit line; spam_per_hour+1 of them
// suspend the account, and its next, clean message is refused as
// suspended. A webmail relay's spam counts for the user it names. A clean
// message is stamped without rspamd's score unless header.detail is full.
func TestSpamVerdictsSuspend(t *testing.T) {
	t.Parallel()
	rs := harness.StartRspamd(t, nil)
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			detail := "verdict"
			if kind == "redis" {
				detail = "full"
			}
			alerts := filepath.Join(harness.Dir(t, "alerts"), "alerts")
			yaml := fmt.Sprintf(`trusted_networks: [127.0.200.0/24]
header: {detail: %s}
spam: {url: %q, on_error: tempfail}
`, detail, rs.URL) + spreadStoreYAML(t, kind, fmt.Sprintf(`  contact: abuse@isp.test
  alert: {command: [sh, -c, 'cat >> "$0"; echo >> "$0"', %q]}
  trusted_key: header
  trusted_header: X-Webmail-User
  default: {spam_per_hour: 2}
`, alerts))
			s, _, res := harness.ConfigStack(t, yaml, harness.MTAConfig{})
			addr := s.Postfix.Addr()
			send := func(body string, i int) string {
				c := harness.DialFrom(t, addr, "127.0.5.1", harness.User, harness.Pass)
				defer c.Quit()
				return harness.Reply(c.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", fmt.Sprint("m", i), body)).Err)
			}
			// A clean message first: delivered, stamped.
			if got := send("Hi Bob, lunch tomorrow at noon?", 0); got != "250" {
				t.Fatalf("clean message: %q", got)
			}
			stamp := headerOf(string(s.Sink.Wait(t, 1, 20*time.Second)[0].Data), "X-Outguard")
			if hasScore := strings.Contains(stamp, "rspamd no action"); hasScore != (detail == "full") {
				t.Errorf("stamp with header.detail %s: %q", detail, stamp)
			}
			// One GTUBE through the trusted webmail, naming alice: refused,
			// counted for alice.
			web := harness.DialFrom(t, addr, "127.0.200.1", "", "")
			r := web.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "web", gtube, "X-Webmail-User: alice"))
			if got := harness.Reply(r.Err); !strings.HasPrefix(got, "550 5.7.1 Message refused as spam by outbound policy") {
				t.Fatalf("GTUBE from the webmail: %q", got)
			}
			// Two more GTUBE from alice herself: refused; the second is
			// the third in the hour and suspends her.
			for i := 1; i <= 2; i++ {
				if got := send(gtube, i); !strings.HasPrefix(got, "550 5.7.1 Message refused as spam by outbound policy") {
					t.Fatalf("GTUBE %d: %q", i, got)
				}
			}
			if !strings.Contains(s.Log.String(), `notes="rspamd reject 15.00/15.00`) || !strings.Contains(s.Log.String(), "verdict=reject check=spam") {
				t.Errorf("no audit line with rspamd's action and score:\n%s", s.Log.String())
			}
			want := "451 4.7.1 Account suspended for sending spam; contact abuse@isp.test"
			if got := send("Hi Bob, are we still on for lunch?", 3); got != want {
				t.Fatalf("clean message after 3 spam: %q, want %q", got, want)
			}
			all, err := res.Store.Suspensions(context.Background())
			if err != nil || len(all) != 1 || all[0].Key != harness.User {
				t.Fatalf("suspensions %+v %v", all, err)
			}
			sp := all[0]
			if sp.Signal != limits.SignalSpam || sp.Reason != "3 messages classed as spam within an hour (limit 2)" || len(sp.Sightings) != 3 {
				t.Fatalf("suspension %+v", sp)
			}
			for _, ev := range sp.Sightings {
				if !strings.HasSuffix(ev.Detail, " rspamd reject 15.00/15.00") {
					t.Errorf("evidence %+v", ev)
				}
			}
			var a limits.Alert
			waitFor(t, "the suspension alert", func() bool {
				b, _ := os.ReadFile(alerts)
				return json.Unmarshal(b, &a) == nil
			})
			if a.Event != "suspended" || a.Signal != limits.SignalSpam || a.Account != harness.User || len(a.Suspension.Sightings) != 3 {
				t.Errorf("alert %+v", a)
			}
		})
	}
}

// headerOf returns the value of the first header field name in msg.
func headerOf(msg, name string) string {
	for _, line := range strings.Split(msg, "\n") {
		if line == "\r" || line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rspamd unreachable or silent, through Postfix: on_error decides
// (tempfail: the client retries; accept: delivered, stamped as not fully
// checked), and a silent rspamd costs at most the message deadline.
func TestSpamOnError(t *testing.T) {
	t.Parallel()
	closedURL := fmt.Sprintf("http://127.0.0.1:%d", harness.DownPort(t))
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var conns []net.Conn
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	for name, c := range map[string]struct {
		yaml, want string
		max        time.Duration
	}{
		"down, tempfail":   {fmt.Sprintf("spam: {url: %q, on_error: tempfail}\n", closedURL), "451 4.7.1 Temporary failure in outbound message checks, try again later", 10 * time.Second},
		"down, accept":     {fmt.Sprintf("spam: {url: %q, on_error: accept}\n", closedURL), "250", 10 * time.Second},
		"silent, deadline": {fmt.Sprintf("message_timeout: 2s\nspam: {url: %q, timeout: 1m, on_error: tempfail}\n", "http://"+silent.Addr().String()), "451 4.7.1 Temporary failure in outbound message checks, try again later", 8 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := harness.ConfigStack(t, c.yaml, harness.MTAConfig{})
			start := time.Now()
			r := s.Dial(t).Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "hi", "hi"))
			if got := harness.Reply(r.Err); !strings.HasPrefix(got, c.want) || time.Since(start) > c.max {
				t.Fatalf("%q after %v, want %q within %v", got, time.Since(start), c.want, c.max)
			}
			if c.want == "250" {
				if stamp := headerOf(string(s.Sink.Wait(t, 1, 20*time.Second)[0].Data), "X-Outguard"); stamp != "accepted, not fully checked" {
					t.Errorf("stamp %q", stamp)
				}
			}
		})
	}
}
