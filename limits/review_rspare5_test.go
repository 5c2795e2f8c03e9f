package limits_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/limits"
)

// Review rspare5 (issue 28, "campaigns spare", design B', 0e5d5d0).

// TestReviewRspare5RespareStaleStores: the store side of
// TestReviewRspare5RespareOfNewRunIneffective (cmd/milterctl), on the
// three stores. A spare of a run that ended, then the same text
// established again two hours later by five new accounts (a new run
// under the same id, as the docs say), spared again by the desk with
// those five: the second spare keeps the first's Last (SQL: ON CONFLICT
// (id) DO NOTHING; Redis: sparelast set only when HSETNX spared wins),
// so the five are spared for none of their next copies.
func TestReviewRspare5RespareStaleStores(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cs := st.(limits.CampaignStore)
			t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
			var keys []string
			for b := range 5 {
				keys = append(keys, fmt.Sprintf("t1wave%02d", b))
			}
			run := func(prefix string, at time.Time) (id string, accts []string, isNew bool) {
				for i := range 5 {
					a := fmt.Sprint(prefix, i)
					accts = append(accts, a)
					res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: a, Subject: "wave", Time: at.Add(time.Duration(i) * time.Second), Bands: 5}, 15*time.Minute, 5)
					if err != nil {
						t.Fatal(err)
					}
					id, isNew = max(id, res.ID), isNew || res.New
				}
				return id, accts, isNew
			}
			id, early, _ := run("early", t0)
			if id == "" {
				t.Fatal("no campaign")
			}
			if err := cs.SpareCampaign(ctx, id, "desk", t0.Add(10*time.Second), early); err != nil {
				t.Fatal(err)
			}
			t1 := t0.Add(2 * time.Hour)
			id2, later, isNew := run("later", t1)
			if id2 != id || !isNew {
				t.Fatalf("second run: id %s new %v, want a new run under %s", id2, isNew, id)
			}
			if err := cs.SpareCampaign(ctx, id, "desk", t1.Add(10*time.Second), later); err != nil {
				t.Fatal(err)
			}
			sp, _ := campaignSpared(ctx, cs, id)
			n := 0
			for _, a := range later {
				if ok, err := cs.SparedAccount(ctx, id, a, t1.Add(time.Minute), 15*time.Minute); err != nil {
					t.Fatal(err)
				} else if ok {
					n++
				}
			}
			t.Logf("%s: spare after the second run's spare: at %s last %s (second run at %s); its 5 accounts spared a minute later: %d",
				name, sp.At.Format(time.TimeOnly), sp.Last.Format(time.TimeOnly), t1.Format(time.TimeOnly), n)
			if n != 5 {
				t.Errorf("%s: the desk spared the second run of %s with its 5 accounts; a minute later %d of them are spared (the spare's Last is still the first run's, %v earlier)",
					name, id, n, t1.Sub(sp.Last).Round(time.Minute))
			}
		})
	}
}
