package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"outguard/internal/harness"
	"outguard/limits"
)

func ctl(t *testing.T, cfg string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"-config", cfg}, args...), &out, &errb)
	return out.String() + errb.String(), code
}

// TestAccountsAgainstMilterd: milterd (in-process, real Postfix) suspends
// an account; milterctl lists, shows and lifts it, and the next message
// goes through; a manual suspension refuses the next one.
func TestAccountsAgainstMilterd(t *testing.T) {
	t.Parallel()
	access := map[string]string{}
	var rcpts []string
	for _, a := range []string{"n1", "n2", "n3"} {
		access[a+"@remote.test"] = "REJECT 5.1.1 no such user"
		rcpts = append(rcpts, a+"@remote.test")
	}
	section := "limits:\n  contact: abuse@isp.test\n  default: {messages_per_hour: 50, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 3}\n"
	s, c, _ := harness.ConfigStack(t, section, harness.MTAConfig{RcptAccess: access})
	cfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+c.StateDir+"\n"+section), 0o644)

	send := func() string {
		r := s.Dial(t).Send("alice@customer.test", []string{"friend@remote.test"}, harness.Msg("alice@customer.test", "friend@remote.test", "hi", "hi"))
		return harness.Reply(r.Err)
	}
	if got := send(); got != "250" {
		t.Fatalf("first message: %s", got)
	}
	s.Dial(t).Send("alice@customer.test", rcpts, harness.Msg("alice@customer.test", "n1@remote.test", "spam", "spam"))
	if got := send(); !strings.HasPrefix(got, "451 4.7.1 Account suspended") {
		t.Fatalf("after 3 undeliverable: %s", got)
	}

	out, code := ctl(t, cfg, "accounts", "list", "--suspended")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "SUSPENDED since") || !strings.Contains(out, "1/50") {
		t.Errorf("list --suspended (%d):\n%s", code, out)
	}
	out, code = ctl(t, cfg, "accounts", "show", "alice")
	if code != 0 || !strings.Contains(out, "3 undeliverable recipients within an hour (threshold 3)") || strings.Count(out, "no such user") != 6 {
		t.Errorf("show (%d):\n%s", code, out)
	}
	out, _ = ctl(t, cfg, "accounts", "show", "alice", "--json")
	var v limits.AccountView
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Suspension == nil || len(v.Suspension.Evidence) != 3 || v.Usage.MessagesHour != 1 {
		t.Errorf("show --json: %v\n%s", err, out)
	}

	if out, code := ctl(t, cfg, "accounts", "unsuspend", "alice"); code != 0 {
		t.Fatalf("unsuspend (%d): %s", code, out)
	}
	if got := send(); got != "250" {
		t.Fatalf("after unsuspend: %s", got)
	}
	// Unsuspend acknowledged the three: one more refused recipient does
	// not suspend the account again; they stay visible as history.
	s.Dial(t).Send("alice@customer.test", []string{"n1@remote.test", "friend@remote.test"}, harness.Msg("alice@customer.test", "n1@remote.test", "typo", "typo"))
	if got := send(); got != "250" {
		t.Fatalf("one bounce after unsuspend suspended the account again: %s", got)
	}
	out, _ = ctl(t, cfg, "accounts", "show", "alice")
	if !strings.Contains(out, "per hour; 1 counting now\nRefused threshold:") || strings.Count(out, "(acknowledged)") != 3 {
		t.Errorf("show after unsuspend:\n%s", out)
	}
	if out, code := ctl(t, cfg, "accounts", "reset", "ALICE"); code != 0 || !strings.Contains(out, "alice reset") {
		t.Fatalf("reset (%d): %s", code, out)
	}
	if out, _ = ctl(t, cfg, "accounts", "show", "alice"); !strings.Contains(out, "0/50 in the last hour") || !strings.Contains(out, "per hour; 0 counting now\nRefused threshold:") {
		t.Errorf("show after reset:\n%s", out)
	}
	if out, code := ctl(t, cfg, "accounts", "unsuspend", "alice"); code != 1 || !strings.Contains(out, "not suspended") {
		t.Errorf("second unsuspend (%d): %s", code, out)
	}

	if out, code := ctl(t, cfg, "accounts", "suspend", "alice", "--reason", "phishing reported"); code != 0 {
		t.Fatalf("suspend (%d): %s", code, out)
	}
	if got := send(); got != "451 4.7.1 Account suspended; contact abuse@isp.test" {
		t.Fatalf("after manual suspend: %s", got)
	}
	out, _ = ctl(t, cfg, "accounts", "list", "--json")
	var views []limits.AccountView
	json.Unmarshal([]byte(out), &views)
	if len(views) != 1 || views[0].Suspension == nil || views[0].Suspension.Reason != "phishing reported" || views[0].Suspension.By == "" {
		t.Errorf("list --json: %s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+t.TempDir()+"\nlimits: {}\n"), 0o644)
	if out, code := ctl(t, cfg, "accounts", "suspend", "alice"); code != 2 || !strings.Contains(out, "--reason") {
		t.Errorf("suspend without reason (%d): %s", code, out)
	}
	if out, code := ctl(t, cfg, "frobnicate"); code != 2 || !strings.Contains(out, "usage:") {
		t.Errorf("unknown command (%d): %s", code, out)
	}
	noLimits := filepath.Join(t.TempDir(), "n.yaml")
	os.WriteFile(noLimits, []byte("state_dir: /tmp\n"), 0o644)
	if out, code := ctl(t, noLimits, "accounts", "list"); code != 1 || !strings.Contains(out, "no limits section") {
		t.Errorf("no limits (%d): %s", code, out)
	}
	// Each quarantine subcommand takes its own flags only: a flag of
	// another one is an error, not silently ignored (purge --to would
	// otherwise purge everything older than the retention).
	withQ := filepath.Join(t.TempDir(), "q.yaml")
	qdir := t.TempDir()
	os.MkdirAll(filepath.Join(qdir, "quarantine"), 0o700)
	os.WriteFile(withQ, []byte("state_dir: "+qdir+"\nquarantine: {}\n"), 0o644)
	for _, args := range [][]string{{"quarantine", "purge", "--to", "x@remote.test"}, {"quarantine", "show", "ID", "--user", "alice"}, {"quarantine", "raw", "ID", "--json"}} {
		if out, code := ctl(t, withQ, args...); code != 2 || !strings.Contains(out, "flag provided but not defined") {
			t.Errorf("%v (%d): %s", args, code, out)
		}
	}
	if out, code := ctl(t, withQ, "quarantine", "list", "--since", "yesterday"); code != 2 || !strings.Contains(out, "invalid duration") {
		t.Errorf("list --since yesterday (%d): %s", code, out)
	}
}
