package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"outguard/internal/harness"
	"outguard/limits"
)

// TestAccountsShowSignals: an account suspended for logging in from too
// many networks; accounts show names the signal, lists each signal's
// window with its evidence, and after unsuspend nothing counts.
func TestAccountsShowSignals(t *testing.T) {
	t.Parallel()
	section := "trusted_networks: [192.0.2.0/24]\nlimits:\n  default: {networks_per_hour: 2}\n  users:\n    bob: {networks_per_hour: 0, countries_per_hour: 1, asns_per_hour: 2, spam_per_hour: 3}\n"
	s, c, _ := harness.ConfigStack(t, section, harness.MTAConfig{})
	cfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+c.StateDir+"\n"+section), 0o644)
	for n := 1; n <= 3; n++ {
		cl := harness.DialFrom(t, s.Postfix.Addr(), fmt.Sprintf("127.0.%d.1", n), harness.User, harness.Pass)
		cl.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", fmt.Sprint("m", n), "hi"))
		cl.Quit()
	}
	out, code := ctl(t, cfg, "accounts", "show", "alice")
	for _, want := range []string{"SUSPENDED since", "Suspension: 3 client networks logged in from within an hour (limit 2)", "Signal: networks",
		"Client networks per hour:  3/2 since", "Spam messages per hour:    0/10 since", "127.0.3.0/24  127.0.3.1"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show (%d) lacks %q:\n%s", code, want, out)
		}
	}
	out, _ = ctl(t, cfg, "accounts", "show", "alice", "--json")
	var v limits.AccountView
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Signals) != 4 || v.Signals[0].Signal != limits.SignalNetworks || v.Signals[0].Counting != 3 || v.Signals[0].Limit != 2 || len(v.Signals[0].Evidence) != 3 || v.Suspension.Signal != limits.SignalNetworks {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if out, code := ctl(t, cfg, "accounts", "unsuspend", "alice"); code != 0 {
		t.Fatalf("unsuspend (%d): %s", code, out)
	}
	if out, _ = ctl(t, cfg, "accounts", "show", "alice"); !strings.Contains(out, "Client networks per hour:  0/2") {
		t.Errorf("after unsuspend, the networks still count:\n%s", out)
	}
	// An override takes all four keys.
	out, _ = ctl(t, cfg, "accounts", "show", "bob", "--json")
	json.Unmarshal([]byte(out), &v)
	if l := v.Limits; l.NetworksPerHour != 0 || l.CountriesPerHour != 1 || l.ASNsPerHour != 2 || l.SpamPerHour != 3 {
		t.Errorf("bob's limits %+v", l)
	}
}
