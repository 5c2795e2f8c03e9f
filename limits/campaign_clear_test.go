package limits_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/limits"
)

// The abuse desk clears a campaign on each store: it reads back cleared
// (by whom, when, until when) in CampaignByID, Campaigns and
// AccountCampaigns; CampaignCleared says so until the clearance ends and
// not after; clearing an unknown campaign is refused and records
// nothing; the campaign's copies go on being counted.
func TestCampaignClear(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Truncate(time.Millisecond)
			var id string
			for i := range 6 {
				res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("petition", false), Account: fmt.Sprint("signer", i), Subject: "Save the ward", Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil {
					t.Fatal(err)
				}
				id = max(id, res.ID)
			}
			if id == "" {
				t.Fatal("no campaign")
			}
			if c, err := cs.CampaignCleared(ctx, id, now); c || err != nil {
				t.Fatalf("cleared before ClearCampaign: %v %v", c, err)
			}
			until := now.Add(7 * 24 * time.Hour)
			if ok, err := cs.ClearCampaign(ctx, id, now, until, "abuse-desk"); !ok || err != nil {
				t.Fatalf("ClearCampaign: %v %v", ok, err)
			}
			if ok, err := cs.ClearCampaign(ctx, "t1nosuchcampaign", now, until, "abuse-desk"); ok || err != nil {
				t.Fatalf("ClearCampaign of an unknown campaign: %v %v", ok, err)
			}
			if c, err := cs.CampaignCleared(ctx, "t1nosuchcampaign", now); c || err != nil {
				t.Fatalf("an unknown campaign cleared: %v %v", c, err)
			}
			for _, at := range []struct {
				t    time.Time
				want bool
			}{{now, true}, {until.Add(-time.Millisecond), true}, {until, false}, {until.Add(time.Hour), false}} {
				if c, err := cs.CampaignCleared(ctx, id, at.t); c != at.want || err != nil {
					t.Errorf("CampaignCleared at %v: %v %v, want %v", at.t.Sub(now), c, err, at.want)
				}
			}
			want := limits.CampaignClearance{At: now, Until: until, By: "abuse-desk"}
			c, err := cs.CampaignByID(ctx, id)
			if err != nil || c == nil || c.Cleared == nil || !c.Cleared.At.Equal(want.At) || !c.Cleared.Until.Equal(want.Until) || c.Cleared.By != want.By {
				t.Fatalf("CampaignByID: %+v %v, want cleared %+v", c, err, want)
			}
			list, err := cs.Campaigns(ctx, now.Add(-time.Minute), 10)
			if err != nil || len(list) != 1 || list[0].Cleared == nil || list[0].Cleared.By != "abuse-desk" {
				t.Fatalf("Campaigns: %+v %v", list, err)
			}
			mine, err := cs.AccountCampaigns(ctx, "signer0", 10)
			if err != nil || len(mine) != 1 || mine[0].Cleared == nil {
				t.Fatalf("AccountCampaigns: %+v %v", mine, err)
			}
			// Its copies are still counted: a seventh signer's is Known.
			res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("petition", false), Account: "signer6", Subject: "Save the ward", Time: now, Bands: 5}, 15*time.Minute, 5)
			if err != nil || !res.Known || res.ID != id {
				t.Fatalf("a copy after the clearance: %+v %v", res, err)
			}
		})
	}
}
