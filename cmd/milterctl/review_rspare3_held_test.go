package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewRspare3HeldUnknownOrPurged: claim 3, "spare of an
// unknown/purged campaign fails cleanly with nothing recorded" (SQLite,
// through the command): a never-seen id and one purged after its 7 days
// both fail (exit 1, "no such campaign"), no spare row left, no audit
// event for its former senders.
func TestReviewRspare3HeldUnknownOrPurged(t *testing.T) {
	cfg, st := campaignsConfig(t)
	ctx := context.Background()
	old := time.Now().Add(-8 * limits.Day)
	res := campaignOf(t, st, "old", old, "o0", "o1", "o2", "o3", "o4")
	if err := st.Purge(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, id := range []string{"t1nosuch", res.ID} {
		out, code := ctl(t, cfg, "campaigns", "spare", id)
		t.Logf("spare %s (%d): %s", id, code, strings.TrimSpace(out))
		if code == 0 || !strings.Contains(out, "no such campaign") {
			t.Errorf("spare of %s: %d %s", id, code, out)
		}
	}
	st2, err := limits.OpenSQLite(strings.TrimSuffix(cfg, "milterd.yaml") + "state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	sp, _ := campaignSpared(ctx, st2, res.ID)
	trail, _ := st2.AuditTrail(ctx, "o0", time.Time{})
	if sp != nil || len(trail) != 0 {
		t.Errorf("left: spare %+v, audit %+v", sp, trail)
	}
}

type rspare3FailUnsuspend struct {
	*limits.SQLStore
	fails int
}

// LiftCampaign is the spare's lift (third design; Unsuspend before).
func (f *rspare3FailUnsuspend) LiftCampaign(ctx context.Context, key, id string) (bool, error) {
	if key == "s2" && f.fails > 0 {
		f.fails--
		return false, errStoreGone
	}
	return f.SQLStore.LiftCampaign(ctx, key, id)
}

var errStoreGone = &storeGone{}

type storeGone struct{}

func (*storeGone) Error() string { return "store gone" }

// TestReviewRspare3HeldStoreFailure: claim 4, "store failure
// mid-command". The store fails lifting the third sender: the spare is
// recorded, the others lifted, the error names it and says run it
// again; the second run lifts it.
func TestReviewRspare3HeldStoreFailure(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	res := campaignOf(t, st, "petition", now.Add(-5*time.Minute), "s0", "s1", "s2", "s3", "s4")
	suspendAll(t, st, res.ID, now.Add(-5*time.Minute), res.Accounts...)
	f := &rspare3FailUnsuspend{SQLStore: st, fails: 1}
	lines, err := newActions(cfg, nil, f).SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk")
	ss, _ := st.Suspensions(ctx)
	t.Logf("first run: err %v; left suspended %d\n%s", err, len(ss), strings.Join(lines, "\n"))
	if err == nil || !strings.Contains(err.Error(), "sparing s2 failed: run it again") || len(ss) != 1 {
		t.Errorf("first run: %v, %d left", err, len(ss))
	}
	lines, err = newActions(cfg, nil, f).SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk")
	ss, _ = st.Suspensions(ctx)
	t.Logf("second run: err %v; left suspended %d", err, len(ss))
	if err != nil || len(ss) != 0 {
		t.Errorf("second run: %v, %d left", err, len(ss))
	}
}
