package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewRspare6TouchSpareConcurrent: claim (2), TouchSpare on the
// three stores with two milterds (connections) counting copies at once:
// every call says whether its sender is listed while the spare is in
// force, the spare's Last ends at the newest copy (only forward), and a
// copy a window after it finds it stale and moves nothing.
func TestReviewRspare6TouchSpareConcurrent(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cs := st.(limits.CampaignStore)
			now := time.Now().Truncate(time.Millisecond)
			id := establish(t, st, "petition", now)
			if err := cs.SpareCampaign(ctx, id, "desk", now, []string{"petition0", "petition1"}); err != nil {
				t.Fatal(err)
			}
			w := 15 * time.Minute
			var mu sync.Mutex
			var newest time.Time
			var wg sync.WaitGroup
			errs := make(chan string, 1000)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 7))
					for i := range 100 {
						at := now.Add(time.Duration(r.IntN(600_000)) * time.Millisecond)
						sender := fmt.Sprint("petition", (g+i)%4)
						spared, err := cs.TouchSpare(ctx, id, sender, at, w)
						want := sender == "petition0" || sender == "petition1"
						if err != nil || spared != want {
							errs <- fmt.Sprintf("%s at +%v: %v %v, want %v", sender, at.Sub(now), spared, err, want)
						}
						mu.Lock()
						if at.After(newest) {
							newest = at
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			close(errs)
			n := 0
			for e := range errs {
				if n++; n <= 5 {
					t.Error(e)
				}
			}
			c, err := cs.CampaignByID(ctx, id)
			if err != nil || c == nil || c.Spared == nil || !c.Spared.Last.Equal(newest) {
				t.Fatalf("Last %+v %v, want %v", c.Spared, err, newest)
			}
			stale := newest.Add(w + time.Second)
			if spared, err := cs.TouchSpare(ctx, id, "petition0", stale, w); err != nil || spared {
				t.Errorf("stale touch: %v %v", spared, err)
			}
			if c, _ := cs.CampaignByID(ctx, id); !c.Spared.Last.Equal(newest) {
				t.Errorf("a stale touch moved Last to %v", c.Spared.Last)
			}
		})
	}
}

// TestReviewRspare6StraddleStores: claim (1) on the three stores: 5
// undeliverable recipients 15 minutes before a campaign suspends the
// account and 5 15 minutes after (the 10th, counted while suspended,
// suspends nothing; a control account with the same 10 is suspended):
// CrossedSince from the suspension says nothing crossed.
func TestReviewRspare6StraddleStores(t *testing.T) {
	def := limits.Limits{}
	for _, k := range limits.Kinds {
		*k.Field(&def) = k.Default
	}
	pol, err := limits.NewPolicy(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			T := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
			clock := T
			eng := &limits.Engine{Store: st, Policy: pol, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return clock }}
			bounce := func(acct string, from int) *limits.Suspension {
				var evs []limits.Undeliverable
				for i := from; i < from+5; i++ {
					evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(acct, i), Kind: limits.KindRecipient, Time: clock, Rcpt: fmt.Sprintf("x%d@gone.example", i), Status: "5.1.1", Source: "log"})
				}
				s, err := eng.Undeliverable(ctx, acct, evs)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			clock = T.Add(-15 * time.Minute)
			bounce("stolen", 0)
			bounce("control", 0)
			clock = T
			s, err := eng.SuspendCampaign(ctx, "stolen", limits.Campaign{ID: "t1petition", First: T, Last: T, Subject: "petition"}, T)
			if err != nil {
				t.Fatal(err)
			}
			clock = T.Add(15 * time.Minute)
			if x := bounce("stolen", 5); x != nil {
				t.Fatalf("stolen suspended anew: %s", x.Reason)
			}
			control := bounce("control", 5)
			over, err := eng.CrossedSince(ctx, "stolen", s.Since)
			t.Logf("control: %v; CrossedSince(stolen): %q %v", control != nil, over, err)
			if control != nil && over == "" {
				t.Errorf("10 undeliverable recipients within 30 minutes, the 10th while suspended (the control account is suspended by them): CrossedSince says none crossed")
			}
		})
	}
}
