package limits_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"outguard/limits"
)

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
