package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewFinalUnsuspendOtherCampaignsCapped (review final, claim 1):
// otherCampaigns reads AccountCampaigns capped at ViewCampaigns (50), the
// newest first. An account that sent a phishing run and then 51 more
// campaigns (a newsletter sender's account taken over, or a run that
// pads its history) is suspended for the newest; unsuspend names 50
// others, and never the phishing run it also sent.
func TestReviewFinalUnsuspendOtherCampaignsCapped(t *testing.T) {
	cfg, st := campaignsConfig(t)
	ctx := context.Background()
	base := time.Now().Add(-2 * time.Hour)
	var ids []string
	var last limits.CampaignResult
	for n := range 52 {
		text := fmt.Sprintf("c%02d", n) // c00: the phishing run, the oldest
		var keys []string
		for b := range 20 {
			keys = append(keys, fmt.Sprintf("t1%s%02d", text, b))
		}
		id := ""
		for i := range 5 {
			acct := fmt.Sprint(text, "-", i)
			if i == 4 {
				acct = "sender"
			}
			res, err := st.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: acct, Subject: text, Time: base.Add(time.Duration(n) * time.Minute), Bands: 5}, 15*time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			id = max(id, res.ID)
			last = res
		}
		ids = append(ids, id)
	}
	_ = last
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
	newest, _ := st.CampaignByID(ctx, ids[51])
	if _, err := eng.SuspendCampaign(ctx, "sender", *newest, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, code := ctl(t, cfg, "accounts", "unsuspend", "sender")
	t.Logf("exit %d:\n%s", code, out)
	if !strings.Contains(out, " "+ids[0]+" ") && !strings.Contains(out, " "+ids[0]+",") {
		t.Errorf("unsuspend of a sender of 52 campaigns, suspended for the newest (%s): the phishing run %s it also sent is not named", ids[51], ids[0])
	}
}
