package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// spreadStores are the three stores the signals must hold on.
var spreadStores = []string{"sqlite", "redis", "postgres"}

// spreadStoreYAML starts the store of kind (sqlite: the default, in state_dir)
// and returns the config lines for it, limitLines going into the limits
// section.
func spreadStoreYAML(t *testing.T, kind, limitLines string) string {
	switch kind {
	case "sqlite":
		return "limits:\n  store: sqlite\n" + limitLines
	case "redis":
		return fmt.Sprintf("limits:\n  store: redis\n  redis: {address: %q}\n%s", harness.StartRedis(t).Addr, limitLines)
	case "postgres":
		return fmt.Sprintf("postgres: {dsn: %q}\nlimits:\n  store: postgres\n%s", harness.StartPostgres(t).DSN, limitLines)
	}
	t.Fatalf("store %s", kind)
	return ""
}

func spreadMsg(subject string) string {
	return harness.Msg("alice@customer.test", "x@remote.test", subject, "body")
}

// An account that logs in from networks_per_hour+1 client networks
// (loopback addresses in distinct /24s, as Postfix sees them) is
// suspended with the networks as evidence and the signal named in the
// alert; one that logs in from one network, however many addresses of
// it, is not; a trusted relay's address counts for nobody.
func TestLoginSpreadSuspends(t *testing.T) {
	t.Parallel()
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			alerts := filepath.Join(harness.Dir(t, "alerts"), "alerts")
			yaml := "trusted_networks: [127.0.200.0/24]\n" + spreadStoreYAML(t, kind, fmt.Sprintf(`  contact: abuse@isp.test
  alert: {command: [sh, -c, 'cat >> "$0"; echo >> "$0"', %q]}
  default: {networks_per_hour: 3}
`, alerts))
			s, _, res := harness.ConfigStack(t, yaml, harness.MTAConfig{})
			addr := s.Postfix.Addr()
			send := func(from, user, pass string, i int) string {
				c := harness.DialFrom(t, addr, from, user, pass)
				defer c.Quit()
				return harness.Reply(c.Send(user+"@customer.test", []string{"x@remote.test"}, spreadMsg(fmt.Sprint(user, i))).Err)
			}
			// bob: 6 addresses of one /24, and the trusted relay's.
			for i := 1; i <= 6; i++ {
				if got := send(fmt.Sprintf("127.0.9.%d", i), "bob", "secret-bob", i); got != "250" {
					t.Fatalf("bob from one network, message %d: %q", i, got)
				}
			}
			for i := 1; i <= 4; i++ {
				if got := send(fmt.Sprintf("127.0.200.%d", i), "bob", "secret-bob", 10+i); got != "250" {
					t.Fatalf("bob through the trusted relay: %q", got)
				}
			}
			// alice: 3 networks are within the limit, the 4th crosses it.
			for n := 1; n <= 3; n++ {
				if got := send(fmt.Sprintf("127.0.%d.1", n), harness.User, harness.Pass, n); got != "250" {
					t.Fatalf("alice from network %d of 3: %q", n, got)
				}
			}
			crossing := send("127.0.4.1", harness.User, harness.Pass, 4)
			want := "451 4.7.1 Account suspended for logins from too many places; contact abuse@isp.test"
			if crossing != want {
				t.Fatalf("alice from a 4th network: %q, want %q", crossing, want)
			}
			// From her first network again: still suspended.
			if got := send("127.0.1.1", harness.User, harness.Pass, 5); got != want {
				t.Fatalf("alice after the suspension: %q", got)
			}
			ctx := context.Background()
			all, err := res.Store.Suspensions(ctx)
			if err != nil || len(all) != 1 || all[0].Key != harness.User {
				t.Fatalf("suspensions %+v %v (bob must not be suspended)", all, err)
			}
			sp := all[0]
			if sp.Signal != limits.SignalNetworks || sp.Reason != "4 client networks logged in from within an hour (limit 3)" || len(sp.Sightings) != 4 {
				t.Fatalf("suspension %+v", sp)
			}
			for i, ev := range sp.Sightings {
				if ev.Signal != limits.SignalNetworks || ev.Value != fmt.Sprintf("127.0.%d.0/24", i+1) || ev.Detail != fmt.Sprintf("127.0.%d.1", i+1) || ev.Last.IsZero() {
					t.Errorf("evidence %d: %+v", i, ev)
				}
			}
			var a limits.Alert
			waitFor(t, "the suspension alert", func() bool {
				b, _ := os.ReadFile(alerts)
				return json.Unmarshal(b, &a) == nil
			})
			if a.Event != "suspended" || a.Signal != limits.SignalNetworks || a.Account != harness.User || len(a.Suspension.Sightings) != 4 {
				t.Errorf("alert %+v", a)
			}
			rec := httptest.NewRecorder()
			res.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if !strings.Contains(rec.Body.String(), "\noutguard_suspensions_total 1\n") {
				t.Errorf("the suspension is not in outguard_suspensions_total")
			}
			// bob's one network, and nothing of the relay's.
			evs, _ := res.Store.Sightings(ctx, "bob", time.Now().Add(-time.Hour))
			if len(evs) != 1 || evs[0].Value != "127.0.9.0/24" {
				t.Errorf("bob's sightings %+v", evs)
			}
			if strings.Contains(s.Log.String(), "127.0.200.0/24") {
				t.Error("the trusted relay's network was recorded")
			}
		})
	}
}

// Two smarthosts on one shared store: the networks an account logs in
// from through either count together; the login that crosses the limit
// is refused on whichever host it arrives, and the other refuses the
// account next.
func TestLoginSpreadAcrossFleet(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			yaml := "trusted_networks: [192.0.2.0/24]\n" + spreadStoreYAML(t, kind, "  default: {networks_per_hour: 3}\n")
			a, _, _ := harness.ConfigStack(t, yaml, harness.MTAConfig{})
			b, _, _ := harness.ConfigStack(t, yaml, harness.MTAConfig{})
			send := func(s *harness.Stack, from string) string {
				c := harness.DialFrom(t, s.Postfix.Addr(), from, harness.User, harness.Pass)
				defer c.Quit()
				return harness.Reply(c.Send("alice@customer.test", []string{"x@remote.test"}, spreadMsg("from "+from)).Err)
			}
			for i, s := range []*harness.Stack{a, b, a} {
				if got := send(s, fmt.Sprintf("127.0.%d.1", 11+i)); got != "250" {
					t.Fatalf("network %d of 3: %q", i+1, got)
				}
			}
			if got := send(b, "127.0.14.1"); !strings.HasPrefix(got, "451 4.7.1 Account suspended for logins from too many places") {
				t.Fatalf("4th network, on host b: %q", got)
			}
			if got := send(a, "127.0.11.1"); !strings.HasPrefix(got, "451 4.7.1 Account suspended") {
				t.Fatalf("host a after the suspension on host b: %q", got)
			}
		})
	}
}
