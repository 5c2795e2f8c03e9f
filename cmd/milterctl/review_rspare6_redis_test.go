package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// duringSpare is a Redis store whose CampaignSenders (the spare command's
// first read after KeptCampaigns) first runs hook: something milterd does
// while a long spare command runs.
type duringSpare struct {
	*limits.Redis
	hook func()
}

func (d *duringSpare) CampaignSenders(ctx context.Context, id string) ([]string, error) {
	if d.hook != nil {
		h := d.hook
		d.hook = nil
		h()
	}
	return d.Redis.CampaignSenders(ctx, id)
}

// TestReviewRspare6KeptReadOnceListsPhisher: claim (3), "KeptCampaigns
// read once per spare command". X sent the phishing text Q (one copy, not a
// campaign yet) and the petition P, which suspended it. The desk runs
// campaigns spare P; after the command read the campaigns kept, Q's fifth
// sender establishes Q (X is suspended already: Q records nothing) and the
// judgement of X reads X's index before milterd's second round trip
// indexes Q for X (simulated: X's entry removed; the same as an index
// write that failed, logged as cosmetic). Read once, the kept list lacks Q:
// X, a sender of the unspared phishing campaign, is judged innocent,
// listed in P's spare and its suspension for P voided (a spared event: it
// counts toward no escalation); only LiftSpared's re-read puts the
// suspension back, and its line says "left as it is". With Q established a
// moment earlier (before the command's read) X is left as it is: not
// listed, not voided (the control).
//
// Mended: the lift reads the campaigns kept again before it voids (and
// after it lifts), so a suspension kept or put back is not voided, and
// an account it finds to have sent another campaign is taken off the
// spare.
func TestReviewRspare6KeptReadOnceListsPhisher(t *testing.T) {
	for _, during := range []bool{false, true} {
		name := map[bool]string{false: "Q before the command", true: "Q during the command"}[during]
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			cfg, st, raw := redisActions(t)
			ctx := context.Background()
			now := time.Now()
			const X = "X"
			campaignOf(t, st, "phishq", now.Add(-12*time.Minute), X)
			resP := campaignOf(t, st, "petition", now.Add(-10*time.Minute), "s1", "s2", "s3", X, "s4")
			suspendAll(t, st, resP.ID, now.Add(-10*time.Minute), resP.Accounts...)
			var qID string
			establishQ := func() {
				resQ := campaignOf(t, st, "phishq", time.Now().Add(-time.Minute), "q1", "q2", "q3", "q4")
				if !resQ.New {
					t.Fatalf("Q not established: %+v", resQ)
				}
				qID = resQ.ID
				raw.ZRem(ctx, "og:{camp}:acamp:"+X, resQ.ID) // not indexed for X yet
				suspendAll(t, st, resQ.ID, time.Now().Add(-time.Minute), resQ.Accounts...)
			}
			d := &duringSpare{Redis: st}
			if during {
				d.hook = establishQ
			} else {
				establishQ()
			}
			lines, serr := newActions(cfg, nil, d).SpareCampaign(ctx, []string{resP.ID}, QueuedStay, "desk")
			t.Logf("spare of P: err %v\n%s", serr, strings.Join(lines, "\n"))
			listed, _ := st.SparedAccount(ctx, resP.ID, X, time.Now(), 15*time.Minute)
			trail, _ := st.AuditTrail(ctx, X, time.Time{})
			voided := false
			for _, ev := range trail {
				voided = voided || ev.Event == limits.AuditSpared && ev.Campaign == resP.ID
			}
			_, sx, _ := st.Usage(ctx, X, time.Now())
			t.Logf("X (sent Q %s): suspended %v, listed in P's spare %v, its P suspension voided %v", qID, sx != nil, listed, voided)
			if listed || voided || sx == nil {
				t.Errorf("%s: X, a sender of the unspared campaign %s, listed as spared of P %v, its suspension for P voided %v (free %v)", name, qID, listed, voided, sx == nil)
			}
		})
	}
}
