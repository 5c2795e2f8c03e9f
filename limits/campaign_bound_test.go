package limits_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/limits"
)

// On every store, the campaign lists are bounded and newest first: of 7
// campaigns, Campaigns and AccountCampaigns with limit 3 give the 3 seen
// last; a campaign sent by more than CampaignAccountsMax accounts reads
// the CampaignAccountsMax seen last (Copies counts them all), and so
// does its next copy's result (the evidence of a suspension). Before:
// every campaign and every account were read.
func TestCampaignListsBounded(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			base := time.Now().Add(-time.Hour)
			var ids []string
			for c := range 7 {
				var res limits.CampaignResult
				for i := range 5 {
					var err error
					res, err = cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys(fmt.Sprint("list", c), false), Account: fmt.Sprint("l", i), Rcpts: []string{fmt.Sprint(i)},
						Time: base.Add(time.Duration(c) * time.Minute), Bands: 5}, 15*time.Minute, 5)
					if err != nil {
						t.Fatal(err)
					}
				}
				ids = append(ids, res.ID)
			}
			list, err := cs.Campaigns(ctx, base.Add(-time.Minute), 3)
			if err != nil || len(list) != 3 || list[0].ID != ids[6] || list[2].ID != ids[4] {
				t.Fatalf("Campaigns limit 3: %+v %v", list, err)
			}
			list, err = cs.AccountCampaigns(ctx, "l2", 3)
			if err != nil || len(list) != 3 || list[0].ID != ids[6] || list[2].ID != ids[4] {
				t.Fatalf("AccountCampaigns limit 3: %+v %v", list, err)
			}
			n := limits.CampaignAccountsMax + 5
			var res limits.CampaignResult
			for i := range n {
				if res, err = cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("big", false)[:5], Account: fmt.Sprint("b", i), Rcpts: []string{fmt.Sprint(i)},
					Time: base.Add(time.Duration(i) * time.Millisecond), Bands: 5}, 15*time.Minute, 5); err != nil {
					t.Fatal(err)
				}
			}
			if !res.Known || len(res.Accounts) != limits.CampaignAccountsMax {
				t.Fatalf("the last copy: known %v, %d accounts", res.Known, len(res.Accounts))
			}
			c, err := cs.CampaignByID(ctx, res.ID)
			if err != nil || c == nil || c.Copies != n || len(c.Accounts) != limits.CampaignAccountsMax || c.Accounts[0].Account != "b5" {
				t.Fatalf("a campaign of %d accounts: %v copies %d, %d accounts read, the first %+v", n, err, c.Copies, len(c.Accounts), c.Accounts[0])
			}
		})
	}
}
