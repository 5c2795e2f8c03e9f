package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"outguard/campaign"
	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// Review rspare3: probes of claims that held (these pass).

type rspare3FailSuspend struct {
	limits.Store
	fails atomic.Int32
}

func (f *rspare3FailSuspend) Suspend(ctx context.Context, s limits.Suspension, now time.Time) (bool, error) {
	if s.Key == "victim2@isp.example" && f.fails.Add(-1) >= 0 {
		return false, errors.New("store gone")
	}
	return f.Store.Suspend(ctx, s, now)
}

// TestReviewRspare3HeldPendingOfSpared: claim 5. The copy establishing
// the campaign fails while suspending its third sender (victims 2-4 left
// pending); the desk spares it; the next unrelated message finishes the
// pending: none suspended, nothing left pending; the retried fifth copy
// is held, its sender not suspended.
func TestReviewRspare3HeldPendingOfSpared(t *testing.T) {
	ctx := context.Background()
	for name, open := range rspare3Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			fs := &rspare3FailSuspend{Store: st}
			fs.fails.Store(1)
			r := newSRig(t, st)
			r.lim.Store = fs
			var accts []string
			for i := range 5 {
				a := fmt.Sprintf("victim%d@isp.example", i)
				accts = append(accts, a)
				rcpt, raw := hamgen.Phish(i, false)
				r.now = r.now.Add(time.Minute)
				tx := campaign.Transaction(t, a, []string{rcpt}, raw)
				_, err := r.eng.Commit(ctx, tx)
				if (i == 4) != (err != nil) {
					t.Fatalf("copy %d: %v", i, err)
				}
			}
			cs, _ := r.cs.Campaigns(ctx, time.Time{}, 5)
			if len(cs) != 1 {
				t.Fatalf("campaigns %v", cs)
			}
			before := r.suspended(t, accts...)
			if err := r.cs.SpareCampaign(ctx, cs[0].ID, "desk", r.now, rspare3Senders(t, r.cs, cs[0].ID)); err != nil {
				t.Fatal(err)
			}
			m := hamgen.Newsletter(3, 1)[0]
			r.now = r.now.Add(time.Minute)
			if _, err := r.eng.Commit(ctx, campaign.Transaction(t, m.Account, m.Rcpts, m.Raw)); err != nil {
				t.Fatal(err)
			}
			// the retried fifth copy
			rcpt, raw := hamgen.Phish(4, false)
			r.now = r.now.Add(time.Minute)
			v, err := r.eng.Commit(ctx, campaign.Transaction(t, accts[4], []string{rcpt}, raw))
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: []string{"t1x"}, Account: "probe", Time: r.now, Bands: 5}, time.Minute, 5)
			after := r.suspended(t, accts...)
			t.Logf("%s: suspended before the spare %d/5, after %d/5; retried copy %s; pending left %v (%v)", name, before, after, v.Action, res.Pending, err)
			if after != before || len(res.Pending) != 0 || v.Action != policy.Quarantine {
				t.Errorf("%s: pending of a spared campaign: suspended %d -> %d, pending %v, retried copy %s", name, before, after, res.Pending, v.Action)
			}
		})
	}
}
