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

// An account that sent two campaigns is suspended for the one found
// first (the second finds it suspended and records nothing): lifting
// that suspension names the other, so that an operator who judged the
// first innocent does not release a phishing run's sender unawares
// (review rclear). One that sent only the campaign it was suspended for
// gets no note.
func TestUnsuspendNamesOtherCampaigns(t *testing.T) {
	t.Parallel()
	cfg, st := campaignsConfig(t)
	ctx := context.Background()
	now := time.Now()
	ids := map[string]string{}
	for _, text := range []string{"petition", "phish"} {
		var keys []string
		for b := range 20 {
			keys = append(keys, fmt.Sprintf("t1%s%02d", text, b))
		}
		for i := range 5 {
			acct := fmt.Sprint(text, i)
			if i == 4 {
				acct = "both" // the fifth of each
			}
			res, err := st.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: acct, Subject: text, Time: now, Bands: 5}, 15*time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			ids[text] = max(ids[text], res.ID)
		}
	}
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
	petition, _ := st.CampaignByID(ctx, ids["petition"])
	for _, acct := range []string{"both", "petition0"} {
		if _, err := eng.SuspendCampaign(ctx, acct, *petition, now); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out, code := ctl(t, cfg, "accounts", "unsuspend", "both")
	if code != 0 || !strings.Contains(out, "note: it also sent campaign(s) "+ids["phish"]+", not what it was suspended for") || strings.Contains(out, ids["petition"]) {
		t.Errorf("unsuspend of a sender of two campaigns (%d):\n%s", code, out)
	}
	if out, code = ctl(t, cfg, "accounts", "unsuspend", "petition0"); code != 0 || strings.Contains(out, "note:") {
		t.Errorf("unsuspend of a sender of one campaign (%d):\n%s", code, out)
	}
}
