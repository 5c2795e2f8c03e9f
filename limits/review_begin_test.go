package limits_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// TestReviewBeginSameAsSight: og_begin (sightings written only on change)
// and og_sight (every sighting written with its exact time) give the same
// counts over a random three hours of one account's MAILs, with seconds
// apart and jumps past the window, addresses changing, the same instant
// twice and acknowledgements (Unsuspend) between, at minute edges.
func TestReviewBeginSameAsSight(t *testing.T) {
	ctx := context.Background()
	st, err := limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(32, 32))
	now := time.Now().Add(-4 * time.Hour).Truncate(time.Minute)
	for i := range 1500 {
		switch k := r.IntN(20); {
		case k < 8:
			now = now.Add(time.Duration(r.IntN(20000)) * time.Millisecond)
		case k < 10:
			now = now.Truncate(time.Minute).Add(time.Minute - time.Duration(r.IntN(2))*time.Millisecond)
		case k < 11:
			now = now.Add(time.Duration(r.IntN(70)) * time.Minute)
		case k < 12:
			for _, key := range []string{"begin", "sight"} {
				if _, err := st.Unsuspend(ctx, key, now); err != nil {
					t.Fatal(err)
				}
			}
			if r.IntN(2) == 0 {
				continue
			}
		}
		ss := []limits.Sighting{{Signal: limits.SignalNetworks, Value: fmt.Sprint("net", r.IntN(6)), First: now, Last: now, Detail: fmt.Sprint("addr", r.IntN(2))}}
		if r.IntN(3) == 0 {
			ss = append(ss, limits.Sighting{Signal: limits.SignalNetworks, Value: fmt.Sprint("net", r.IntN(6)), First: now, Last: now, Detail: "addr9"})
		}
		_, _, got, err := st.BeginMessage(ctx, "begin", ss, now)
		if err != nil {
			t.Fatal(err)
		}
		want, err := st.Sight(ctx, "sight", ss, now)
		if err != nil {
			t.Fatal(err)
		}
		if got[limits.SignalNetworks] != want[limits.SignalNetworks] {
			t.Fatalf("step %d at %v: og_begin counts %v, og_sight %v", i, now, got, want)
		}
	}
}
