package limits_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// TestSuspensionsExpireAndEscalate, with a clock the test moves, on each
// store: an automatic suspension lasts suspend_for (a day) and no longer;
// the third within 30 days lasts until an operator lifts it, says so, and
// is in the audit trail as escalated (each expiry too, once, at its
// time); one 30 days after the first two
// expired lasts a day again; a manual suspension without a duration never
// expires.
func TestSuspensionsExpireAndEscalate(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
			pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 2}, nil)
			eng := &limits.Engine{
				Store: st, Policy: pol, Log: harness.Logger(t, &harness.LogBuffer{}), Now: func() time.Time { return now },
				SuspendFor: limits.Day, Escalate: limits.Escalation{After: 3, Within: 30 * limits.Day},
				Accounts: limits.Accounts{Host: "mx1"},
			}
			n := 0
			bounce := func(key string) *limits.Suspension {
				t.Helper()
				var susp *limits.Suspension
				for range 2 {
					n++
					s, err := eng.Undeliverable(ctx, key, []limits.Undeliverable{{ID: fmt.Sprint("e", n), Time: now, Rcpt: "x@remote.test", Status: "5.1.1", Source: "rcpt"}})
					if err != nil {
						t.Fatal(err)
					}
					if s != nil {
						susp = s
					}
				}
				if susp == nil {
					t.Fatalf("%s not suspended at %s", key, now)
				}
				return susp
			}
			active := func(key string) bool {
				_, s, err := st.Usage(ctx, key, now)
				if err != nil {
					t.Fatal(err)
				}
				return s.Active(now)
			}

			for i := 1; i <= 2; i++ {
				s := bounce("alice")
				if !s.Until.Equal(now.Add(limits.Day)) || s.Escalated {
					t.Fatalf("suspension %d: until %s, escalated %v; want a day", i, s.Until, s.Escalated)
				}
				now = now.Add(limits.Day - time.Second)
				if !active("alice") {
					t.Fatalf("suspension %d over before its day", i)
				}
				now = now.Add(time.Second)
				if active("alice") {
					t.Fatalf("suspension %d still in force after its day", i)
				}
				// Recorded once, at the time it ended.
				if n, err := limits.AuditExpiries(ctx, st, now.Add(time.Hour)); n != 1 || err != nil {
					t.Fatalf("expiry %d recorded %d times: %v", i, n, err)
				}
				if n, err := limits.AuditExpiries(ctx, st, now.Add(2*time.Hour)); n != 0 || err != nil {
					t.Fatalf("expiry %d recorded again: %d %v", i, n, err)
				}
				now = now.Add(2 * limits.Day)
			}
			s := bounce("alice")
			if !s.Until.IsZero() || !s.Escalated {
				t.Fatalf("third within 30 days: until %s, escalated %v; want until lifted", s.Until, s.Escalated)
			}
			now = now.Add(365 * limits.Day)
			if !active("alice") {
				t.Fatal("the escalated suspension expired")
			}
			if ok, err := st.Unsuspend(ctx, "alice", now); !ok || err != nil {
				t.Fatal(ok, err)
			}
			trail, err := st.AuditTrail(ctx, "alice", time.Time{})
			if err != nil || len(trail) != 5 || trail[0].Event != limits.AuditSuspended || trail[1].Event != limits.AuditExpired || !trail[1].Time.Equal(trail[0].Time.Add(limits.Day)) ||
				trail[4].Event != limits.AuditEscalated || trail[4].Host != "mx1" || trail[4].By != "milterd" {
				t.Fatalf("audit trail: %+v %v", trail, err)
			}
			// A year on, the escalated one is 365 days old: a day again.
			now = now.Add(time.Minute) // after the unsuspend's acknowledgement
			if s := bounce("alice"); s.Until.IsZero() || s.Escalated {
				t.Fatalf("first in a new window escalated: %+v", s)
			}

			// Bob: two suspensions 31 days apart are not a third.
			bounce("bob")
			now = now.Add(31 * limits.Day)
			bounce("bob")
			now = now.Add(2 * limits.Day)
			if s := bounce("bob"); s.Escalated {
				t.Fatal("the third suspension counted one outside the window")
			}

			// Manual, no duration: never expires.
			if ok, err := st.Suspend(ctx, limits.Suspension{Key: "carol", Since: now, Reason: "phished", By: "op"}, now); !ok || err != nil {
				t.Fatal(ok, err)
			}
			now = now.Add(1000 * limits.Day)
			if !active("carol") {
				t.Fatal("a manual suspension expired")
			}
			if all, err := st.AuditTrail(ctx, "", time.Time{}); err != nil || len(all) != 9 {
				t.Errorf("every account's trail: %d events, %v; want 9", len(all), err)
			}
		})
	}
}
