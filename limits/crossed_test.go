package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"outguard/limits"
	"outguard/policy"
)

// TestCrossedWhileSuspended: a limit an account crosses while it is
// suspended (for a campaign) is recorded in its trail with milterd's own
// count, and CrossedSince finds it, on the three stores, with the example
// config's limits (networks_per_hour 12, undeliverable_per_hour 10): a
// botnet's logins whose hour straddles the suspension (8 networks before
// it, 5 after: review rspare6), once per clock hour however many logins;
// 12 networks are none; bounces straddling the suspension (5 before, 5
// after), 9 are none; an acknowledgement after the crossing forgets it;
// the 11th bounce of an account its 10 suspended is none.
func TestCrossedWhileSuspended(t *testing.T) {
	pol, err := limits.NewPolicy(exampleLimits, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Truncate(time.Hour).Add(-5*time.Hour + 10*time.Minute)
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := t0
			eng := &limits.Engine{Store: st, Policy: pol, OnSuspended: policy.Tempfail, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
			at := func(d time.Duration) time.Time { now = t0.Add(d); return now }
			login := func(acct string, network int, d time.Duration) policy.Action {
				at(d)
				tx := &policy.Transaction{User: acct, Conn: policy.Conn{Addr: netip.MustParseAddr(fmt.Sprintf("198.51.%d.7", network))}}
				v, err := eng.CheckMail(ctx, tx)
				if err != nil {
					t.Fatal(err)
				}
				return v.Action
			}
			bounce := func(acct string, n int, d time.Duration) {
				var evs []limits.Undeliverable
				for i := range n {
					evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(acct, d, i), Kind: limits.KindRecipient, Time: at(d), Rcpt: fmt.Sprintf("x%d@gone.example", i), Status: "5.1.1", Source: "log"})
				}
				if _, err := eng.Undeliverable(ctx, acct, evs); err != nil {
					t.Fatal(err)
				}
			}
			suspend := func(acct string, d time.Duration) time.Time {
				s := limits.Suspension{Key: acct, Since: at(d), Until: now.Add(limits.Day), By: "milterd", Signal: limits.SignalCampaign, Reason: "sent campaign t1x"}
				if _, err := st.Suspend(ctx, s, now); err != nil {
					t.Fatal(err)
				}
				return s.Since
			}
			crossings := func(acct string) int {
				trail, err := st.AuditTrail(ctx, acct, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, ev := range trail {
					if ev.Event == limits.AuditCrossed {
						n++
					}
				}
				return n
			}
			check := func(acct string, since time.Time, want string) {
				t.Helper()
				if got, err := eng.CrossedSince(ctx, acct, since); err != nil || got != want {
					t.Errorf("%s: %q %v, want %q", acct, got, err, want)
				}
			}

			for _, c := range []struct {
				acct     string
				networks int
				want     string
			}{{"bot", 13, "13 client networks logged in from within an hour (limit 12) while suspended"}, {"signer", 12, ""}} {
				for i := range 8 {
					if a := login(c.acct, i, time.Duration(i)*time.Minute); a != policy.Accept {
						t.Fatalf("%s's login %d before its suspension: %s", c.acct, i, a)
					}
				}
				since := suspend(c.acct, 10*time.Minute)
				for i := 8; i < c.networks; i++ {
					if a := login(c.acct, i, time.Duration(12+i)*time.Minute); a != policy.Tempfail {
						t.Fatalf("%s's login %d while suspended: %s", c.acct, i, a)
					}
				}
				// the same networks again and again within the clock hour
				for i := range 20 {
					login(c.acct, i%c.networks, 30*time.Minute+time.Duration(i)*time.Second)
				}
				check(c.acct, since, c.want)
				if n, want := crossings(c.acct), min(1, len(c.want)); n != want {
					t.Errorf("%s: %d crossings recorded in the hour, want %d", c.acct, n, want)
				}
			}
			// The next clock hour, still over: recorded once more.
			for i := range 13 {
				login("bot", i, 60*time.Minute+time.Duration(i)*time.Second)
			}
			if n := crossings("bot"); n != 2 {
				t.Errorf("bot: %d crossings after the next hour's logins, want 2", n)
			}
			// An acknowledgement (unsuspend) after them: none since.
			if _, err := st.Unsuspend(ctx, "bot", at(70*time.Minute)); err != nil {
				t.Fatal(err)
			}
			check("bot", t0, "")

			// A suspension's own signal counted on is no crossing: 10
			// bounces suspend for undeliverable recipients, the 11th
			// records nothing (review rspare8).
			bounce("own", 10, 5*time.Minute)
			_, own, err := st.Usage(ctx, "own", now)
			if err != nil || own == nil || own.Signal != limits.SignalUndeliverable {
				t.Fatalf("own not suspended by its bounces: %+v %v", own, err)
			}
			bounce("own", 1, 6*time.Minute)
			check("own", own.Since.Add(-time.Millisecond), "")

			for _, c := range []struct {
				acct  string
				after int
				want  string
			}{{"bounced", 5, "10 undeliverable recipients within an hour (threshold 10) while suspended"}, {"bounced9", 4, ""}} {
				bounce(c.acct, 5, 5*time.Minute)
				since := suspend(c.acct, 10*time.Minute)
				bounce(c.acct, c.after, 20*time.Minute)
				check(c.acct, since, c.want)
			}
		})
	}
}
