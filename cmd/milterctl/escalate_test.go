package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// TestAccountsShowWhichAndWhy: accounts show tells a suspension for
// suspend_for (until when), one that expired (when), and an escalated one
// (until lifted, and which automatic suspension it was), on a clock the
// test moves.
func TestAccountsShowWhichAndWhy(t *testing.T) {
	ctx := context.Background()
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 1}, nil)
	eng := &limits.Engine{Store: st, Policy: pol, Log: harness.Logger(t, &harness.LogBuffer{}), Now: func() time.Time { return now },
		SuspendFor: limits.Day, Escalate: limits.Escalation{After: 3, Within: 30 * limits.Day}}
	show1 := func() string {
		var b strings.Builder
		if err := show(ctx, st, pol, nil, "alice", false, now, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for i := 1; i <= 3; i++ {
		if _, err := eng.Undeliverable(ctx, "alice", []limits.Undeliverable{{ID: fmt.Sprint(i), Time: now, Rcpt: "x@remote.test", Status: "5.1.1", Source: "rcpt"}}); err != nil {
			t.Fatal(err)
		}
		out := show1()
		if i < 3 {
			until := now.Add(limits.Day).Local().Format(time.DateTime)
			if !strings.Contains(out, "SUSPENDED until "+until+" by milterd") {
				t.Errorf("suspension %d:\n%s", i, out)
			}
			now = now.Add(limits.Day + time.Minute)
			if out := show1(); !strings.Contains(out, "suspension expired "+until) {
				t.Errorf("suspension %d expired:\n%s", i, out)
			}
			continue
		}
		if !strings.Contains(out, "escalated: until lifted") || !strings.Contains(out, "automatic suspension 3 within 720h0m0s: until an operator lifts it") {
			t.Errorf("third suspension:\n%s", out)
		}
	}
}
