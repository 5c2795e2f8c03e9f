package limits_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewR5aMatchedFiveNoneAtSix: what campaign.accounts 6 does to
// the innocent shapes matched 5 at the default 5 (docs/suspension.md,
// "What an operator can do"), by the rule alone (limits.Reach, as
// TestCampaignSetsShapes), 1000 draws each, each count pinned. Review r5a
// found the docs' "none at 6" false: only the four optional Cc's are;
// the own MP among 6 halves; the signers each with an address of their
// own (Bcc'ing it, or writing to their own MP) are a campaign at any
// threshold they reach, having one recipient of their own each.
func TestReviewR5aMatchedFiveNoneAtSix(t *testing.T) {
	plus := func(extra ...string) []string { return append(slices.Clone(committee), extra...) }
	shapes := []struct {
		name   string
		n5, n6 int
		sets   func(r *rand.Rand) [][]string
	}{
		{"4 optional Cc's (1/3 each), 20 signers", 9, 0, func(r *rand.Rand) [][]string {
			var out [][]string
			for range 20 {
				s := plus()
				for _, o := range []string{"mayor", "paper", "secretary", "council"} {
					if r.IntN(3) == 0 {
						s = append(s, o)
					}
				}
				out = append(out, s)
			}
			return out
		}},
		{"20 Cc their MP (6 MPs)", 859, 403, func(r *rand.Rand) [][]string {
			var out [][]string
			for range 20 {
				out = append(out, plus(fmt.Sprint("mp", r.IntN(6))))
			}
			return out
		}},
		{"10 of 20 Bcc their other address", 1000, 1000, func(r *rand.Rand) [][]string {
			var out [][]string
			for i := range 20 {
				if i%2 == 0 {
					out = append(out, plus(fmt.Sprint("own-other", i)))
				} else {
					out = append(out, committee)
				}
			}
			return out
		}},
		{"20 write to their own MP (of 650)", 1000, 1000, func(r *rand.Rand) [][]string {
			var out [][]string
			for range 20 {
				out = append(out, []string{fmt.Sprint("mp", r.IntN(650))})
			}
			return out
		}},
	}
	for _, sh := range shapes {
		n5, n6 := 0, 0
		for seed := range uint64(1000) {
			sets := sh.sets(rand.New(rand.NewPCG(seed, 17)))
			if limits.Reach(sets, 5) {
				n5++
			}
			if limits.Reach(sets, 6) {
				n6++
			}
		}
		t.Logf("%s: a campaign in %d of 1000 draws at accounts 5, %d at accounts 6", sh.name, n5, n6)
		if n5 != sh.n5 || n6 != sh.n6 {
			t.Errorf("%s: a campaign in %d of 1000 draws at 5 and %d at 6, pinned %d and %d (docs/suspension.md says so)", sh.name, n5, n6, sh.n5, sh.n6)
		}
	}
}

// TestReviewR5aBccOwnAtSixStores is the row "10 of 20 Bcc'ing an address
// of their own" on the three stores (real redis-server and PostgreSQL)
// with campaign.accounts 6: 20 signers to the 5-member committee, every
// other one Bcc'ing a webmail address of their own, are a campaign at the
// eleventh signer (the sixth with an address of its own) on each.
func TestReviewR5aBccOwnAtSixStores(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			at := 0
			for i := range 20 {
				rcpts := slices.Clone(committee)
				if i%2 == 0 {
					rcpts = append(rcpts, fmt.Sprint("own-other", i))
				}
				now = now.Add(time.Second)
				res, err := cs.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: campaignKeys("petition-bcc", false), Account: fmt.Sprint("signer", i), Rcpts: rcpts, Time: now, Bands: 5}, 15*time.Minute, 6)
				if err != nil {
					t.Fatal(err)
				}
				if res.New {
					at = i + 1
				}
			}
			if at != 11 {
				t.Errorf("20 signers to the committee, every other one Bcc'ing its own other address: a campaign at signer %d with campaign.accounts 6, want 11", at)
			}
		})
	}
}
