package limits_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"outguard/limits"
)

// review rspare10, claim (1): a later legitimate spare after a put back.
// VoidCampaign stamps the spare at the time of the last suspension for the
// campaign "or of a put back after them" ("this one after it"), i.e. at
// exactly the put back's time; voided() lets a put back undo every spare
// "at or after" which it is (!pb.Time.Before(sp.Time)). So the new spare,
// stamped equal to the put back, is undone by the very put back it came
// after: the account's suspension for the campaign keeps counting, and an
// innocent account (campaign spared twice, the second time for good) is
// escalated (until an operator lifts it) on its 2nd real suspension with
// the shipped escalate {after: 3, within: 30d}.
func TestReviewRspare10SpareAfterPutBackVoidsNothing(t *testing.T) {
	ctx := context.Background()
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now().Truncate(time.Second).Add(-10 * time.Hour)
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Escalate: limits.Escalation{After: 3, Within: 30 * limits.Day},
		Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}}
	camp := func(id string, at time.Time) limits.Campaign {
		return limits.Campaign{ID: id, First: at, Last: at, Subject: "petition " + id,
			Accounts: []limits.CampaignAccount{{Account: "alice"}}}
	}
	// 1. alice suspended for campaign c (the petition).
	s, err := eng.SuspendCampaign(ctx, "alice", camp("c", t0), t0)
	if err != nil || s == nil {
		t.Fatalf("suspend: %+v %v", s, err)
	}
	// 2. The desk spares c: void, lift, then the lift finds another
	// campaign d from alice (not spared yet): put back.
	if err := limits.VoidCampaign(ctx, st, "alice", "c", "desk", "ctl", "campaign c spared"); err != nil {
		t.Fatal(err)
	}
	if err := limits.PutBack(ctx, st, s, "c", t0.Add(time.Minute), "it sent campaign(s) d meanwhile"); err != nil {
		t.Fatal(err)
	}
	// 3. The desk checks d too (the same petition, re-worded), finds both
	// innocent and spares c again: this spare is after the put back and
	// voids c's suspension for good.
	if err := limits.VoidCampaign(ctx, st, "alice", "c", "desk", "ctl", "campaign c spared again"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Unsuspend(ctx, "alice", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	trail, _ := st.AuditTrail(ctx, "alice", time.Time{})
	for _, ev := range trail {
		t.Logf("trail: %s %-9s campaign=%q by=%s", ev.Time.Format("15:04:05.000"), ev.Event, ev.Campaign, ev.By)
	}
	// 4. Two later, genuine automatic suspensions (other campaigns).
	// With c's voided, the 2nd of them is the 2nd counted: not escalated.
	t1 := t0.Add(2 * time.Hour)
	if s, err := eng.SuspendCampaign(ctx, "alice", camp("e", t1), t1); err != nil || s == nil || s.Escalated {
		t.Fatalf("first later suspension: %+v %v", s, err)
	}
	if _, err := st.Unsuspend(ctx, "alice", t1.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	t2 := t0.Add(4 * time.Hour)
	s2, err := eng.SuspendCampaign(ctx, "alice", camp("f", t2), t2)
	if err != nil || s2 == nil {
		t.Fatalf("second later suspension: %+v %v", s2, err)
	}
	if s2.Escalated {
		t.Errorf("the spare after the put back voided nothing: alice's 2nd real suspension escalated (until an operator lifts it): %s", s2.Reason)
	}
}
