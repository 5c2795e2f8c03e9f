package limits_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"outguard/limits"
)

// Review r1 (issue 28, schema 18). docs/suspension.md: "16 are recorded
// ... since schema 18 the 16 lowest of all it reached in the window" and
// "the hourly recipient limit, not this rule, is what bounds it" (an
// attacker priming with 490 shared addresses can hide 10 victims per
// account an hour). But an account's recorded list is never aged: each
// copy within the window merges into the list of the previous one
// (campMine/ZSCORE: last >= cutoff), so tokens reached hours ago stay
// as long as the account sends the key once per window. An attacker
// whose accounts keep sending the phish to their own (shared) mailboxes,
// 500 new addresses an hour each (the shipped recipients_per_hour),
// grows the shared pool far past 500: after 8 hours (about 3950 shared
// tokens) 50 victims per account hide with probability (1-16/3966)^50,
// about 82%, and the run passes for a petition.

// The rule over 300 draws (as TestPrimedReachDraws): a shared pool of
// 500 an hour of priming. Since schema 20 an account's list restarts
// once it began more than a window before (campaign_keys.t0): it holds
// what the account reached within one window (the shipped 15m), at most
// the shipped recipients_per_hour (500) less the victims however many
// hours the priming lasted, the figures of one hour.
func TestReviewPrimedAcrossWindowsDraws(t *testing.T) {
	for _, c := range []struct{ hours, v int }{{1, 50}, {4, 50}, {4, 10}, {8, 50}} {
		a := 500*min(c.hours, 1) - c.v
		found := 0
		for seed := range uint64(300) {
			r := rand.New(rand.NewPCG(seed, uint64(a)))
			anchors := lowest(tokens(r, a))
			var sets [][]string
			for range 60 {
				sets = append(sets, lowest(append(slices.Clone(anchors), tokens(r, c.v)...)))
				if limits.Reach(sets, 5) {
					found++
					break
				}
			}
		}
		t.Logf("primed %d h (%d shared in a list), %d victims per account: found within 60 accounts in %.1f%% of 300 draws", c.hours, a, c.v, float64(found)/3)
		if c.v == 50 && found < 285 {
			t.Errorf("primed %d hours within recipients_per_hour (%d shared), %d victims per account: found in only %.1f%% of draws (one hour's 450/50: at least 95%%)", c.hours, a, c.v, float64(found)/3)
		}
	}
}

// The same on the three stores, within the shipped hourly and daily
// recipient limits: 12 stolen accounts each send the phish every 12
// minutes for 4 hours to 100 new addresses of the attacker's own (the
// same for every account: 500 an hour, 1950 in all), then each sends it
// to 50 victims of its own (2000 recipients in the day). The recorded
// recipients of a copy are what rcptHashes keeps (its 16 lowest).
func TestReviewPrimedAcrossWindows(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			r := rand.New(rand.NewPCG(28, 1))
			const accounts, steps = 12, 20 // 20 x 12 min = 4 h
			now := time.Now().Add(-5 * time.Hour)
			found := -1
			for s := range steps {
				n := 100
				if s == steps-1 {
					n = 50
				}
				chunk := lowest(tokens(r, n))
				for i := range accounts {
					if res := copyTo(t, cs, &now, "windows", fmt.Sprint("w", i), chunk...); res.ID != "" && found < 0 {
						t.Fatalf("priming alone a campaign at step %d", s)
					}
				}
				now = now.Add(12*time.Minute - accounts*time.Second)
			}
			for i := range accounts {
				vs := tokens(r, 50)
				if res := copyTo(t, cs, &now, "windows", fmt.Sprint("w", i), lowest(vs)...); res.ID != "" && found < 0 {
					found = i
				}
			}
			if found < 0 {
				t.Fatalf("12 accounts primed for 4 hours within recipients_per_hour and _per_day (1950 shared addresses), then 50 victims each: never found (the same 50 victims after one hour's priming of 450: found)")
			}
		})
	}
}
