package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// TestCrossedSince: what an account's evidence did while it was
// suspended for something else (a campaign later spared), judged by the
// most in any hour since, at each bound: the shipped limits (networks 12,
// countries 4, spam 10: more than that many; undeliverable recipients 10,
// refused messages 20: that many), one more and one fewer, within an hour
// and just over one, a login network first seen before the suspension
// (its last sighting counts), and an acknowledgement after it (counted
// from there), on the three stores.
func TestCrossedSince(t *testing.T) {
	def := limits.Limits{}
	for _, k := range limits.Kinds {
		*k.Field(&def) = k.Default
	}
	pol, err := limits.NewPolicy(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-5 * time.Hour).Truncate(time.Second)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type sight struct {
		signal string
		n      int
		first  time.Duration // 0: at
		at     time.Duration
	}
	cases := []struct {
		name   string
		sights []sight
		bounce []time.Duration // one undeliverable recipient each
		refuse int             // messages refused, at t0+1h
		ack    time.Duration   // acknowledged (unsuspended) at
		want   string
	}{
		{name: "networks13", sights: []sight{{limits.SignalNetworks, 13, 0, time.Hour}}, want: "13 client networks logged in from within an hour (limit 12)"},
		{name: "networks12", sights: []sight{{limits.SignalNetworks, 12, 0, time.Hour}}},
		{name: "networks12twice", sights: []sight{{limits.SignalNetworks, 12, 0, time.Hour}, {limits.SignalNetworks, 12, 0, 2*time.Hour + time.Second}}},
		// the 13th an hour after the first 12: not within an hour
		{name: "networksHourApart", sights: []sight{{limits.SignalNetworks, 12, 0, time.Hour}, {limits.SignalNetworks, 1, 0, 2 * time.Hour}}},
		{name: "networksWithinHour", sights: []sight{{limits.SignalNetworks, 12, 0, time.Hour}, {limits.SignalNetworks, 1, 0, 2*time.Hour - time.Second}}, want: "13 client networks"},
		// one of them first seen before the suspension, last within the hour
		{name: "networksSeenBefore", sights: []sight{{limits.SignalNetworks, 12, 0, time.Hour}, {limits.SignalNetworks, 1, -time.Hour, time.Hour + time.Minute}}, want: "13 client networks"},
		{name: "countries5", sights: []sight{{limits.SignalCountries, 5, 0, 3 * time.Hour}}, want: "5 countries logged in from within an hour (limit 4)"},
		{name: "countries4", sights: []sight{{limits.SignalCountries, 4, 0, 3 * time.Hour}}},
		{name: "asns7", sights: []sight{{limits.SignalASNs, 7, 0, 3 * time.Hour}}, want: "7 network operators (ASNs) logged in from within an hour (limit 6)"},
		{name: "spam11", sights: []sight{{limits.SignalSpam, 11, 0, time.Hour}}, want: "11 messages classed as spam within an hour (limit 10)"},
		{name: "spam10", sights: []sight{{limits.SignalSpam, 10, 0, time.Hour}}},
		{name: "acknowledged", sights: []sight{{limits.SignalNetworks, 13, 0, time.Hour}}, ack: 2 * time.Hour},
		{name: "bounced10", bounce: repeat(10, time.Hour), want: "10 undeliverable recipients within an hour (threshold 10)"},
		{name: "bounced9", bounce: repeat(9, time.Hour)},
		{name: "bouncedHourApart", bounce: append(repeat(5, time.Hour), repeat(5, 2*time.Hour)...)},
		{name: "refused20", refuse: 20, want: "20 messages refused by their receivers within an hour (threshold 20)"},
		{name: "refused19", refuse: 19},
	}
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			eng := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now}
			for _, c := range cases {
				acct := "crossed-" + c.name
				for i, s := range c.sights {
					var ss []limits.Sighting
					for j := range s.n {
						v := fmt.Sprintf("%d.%d", i, j)
						switch s.signal {
						case limits.SignalNetworks:
							v = fmt.Sprintf("198.%d.%d.0/24", i, j)
						case limits.SignalASNs:
							v = fmt.Sprintf("AS%d", 64500+10*i+j)
						}
						first := at(s.at)
						if s.first != 0 {
							first = at(s.first)
						}
						ss = append(ss, limits.Sighting{Signal: s.signal, Value: v, First: first, Last: at(s.at)})
					}
					if _, err := st.Sight(ctx, acct, ss, at(s.at)); err != nil {
						t.Fatal(err)
					}
				}
				var evs []limits.Undeliverable
				for i, d := range c.bounce {
					evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(acct, i), Kind: limits.KindRecipient, Time: at(d), Rcpt: fmt.Sprintf("x%d@gone.example", i), Status: "5.1.1", Source: "log"})
				}
				if len(evs) > 0 {
					if _, err := st.AddUndeliverable(ctx, acct, evs, at(3*time.Hour)); err != nil {
						t.Fatal(err)
					}
				}
				evs = nil
				for i := range c.refuse {
					evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(acct, "m", i), Kind: limits.KindMessage, Time: at(time.Hour), Rcpt: fmt.Sprintf("r%d@big.example", i), Status: "5.7.1", Source: "log"})
				}
				if len(evs) > 0 {
					if _, err := st.AddRefused(ctx, acct, evs, at(time.Hour)); err != nil {
						t.Fatal(err)
					}
				}
				if c.ack > 0 {
					if _, err := st.Unsuspend(ctx, acct, at(c.ack)); err != nil {
						t.Fatal(err)
					}
				}
				got, err := eng.CrossedSince(ctx, acct, t0)
				if err != nil || !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
					t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
				}
			}
		})
	}
}

// repeat is n times d.
func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
