package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/limits"
)

// Review rspare7 (issue 28, "campaigns spare", 3ab9c05: `crossed` records).
// Engine as milterd's (straddleEngine: the shipped limits, suspend_for 24h),
// the desk's spare through SpareCampaign.

// rs7Voided reports whether acct's milterd suspension for campaign id
// recorded at at is voided by a `spared` event (as escalation reads it:
// a spared event of the campaign at or after it).
func rs7Voided(r *rs6, acct, id string, at time.Time) bool {
	trail, err := r.st.AuditTrail(r.ctx, acct, time.Time{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, ev := range trail {
		if ev.Event == limits.AuditSpared && ev.Campaign == id && !ev.Time.Before(at) {
			return true
		}
	}
	return false
}

// rs7Crossings are acct's `crossed` records.
func rs7Crossings(r *rs6, acct string) []string {
	trail, err := r.st.AuditTrail(r.ctx, acct, time.Time{})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, ev := range trail {
		if ev.Event == limits.AuditCrossed {
			out = append(out, ev.Time.Format(time.DateTime)+" "+ev.Detail)
		}
	}
	return out
}

// TestReviewRspare7EarlierSuspensionsCrossingForgotten: claims (1)/(4).
// A stolen account is suspended for the campaign (S1, a day ago); while
// S1 is in force its botnet logs in from 13 networks (limit 12): milterd
// records `crossed`. S1 ends by suspend_for (24h); the botnet sends the
// same text again (a new run under the campaign's id) and is suspended for
// it again (S2), quietly. The spare reads CrossedSince from S2's start
// only: the account is "unsuspended (spared)", and VoidCampaign voids S1
// too, the suspension during which it crossed: the docs say an account
// that crossed a limit while suspended is left out and its suspension for
// the campaign still counts toward escalation.
func TestReviewRspare7EarlierSuspensionsCrossingForgotten(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T1 := now.Add(-26 * time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T1.Add(-5*time.Minute), "s0", "s1", "s2", "s3", "stolen")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T1
	if _, err := r.eng.SuspendCampaign(r.ctx, "stolen", *c, T1); err != nil {
		t.Fatal(err)
	}
	for i := range 13 {
		r.clock = T1.Add(time.Duration(10+i) * time.Minute)
		r.login("stolen", fmt.Sprintf("203.0.%d.9", i))
	}
	if len(rs7Crossings(r, "stolen")) == 0 {
		t.Fatal("no crossing recorded during S1")
	}
	T2 := now.Add(-30 * time.Minute).Truncate(time.Minute)
	r.clock = T2
	if s, err := r.eng.SuspendCampaign(r.ctx, "stolen", *c, T2); err != nil || s == nil {
		t.Fatal(s, err)
	}
	if s := r.suspended("stolen"); s == nil || !s.Since.Equal(T2) {
		t.Fatalf("S2 not in force: %+v", s)
	}
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "stolen")
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	t.Logf("spare: %s", line)
	if s := r.suspended("stolen"); s == nil {
		t.Errorf("the spare freed an account that crossed networks_per_hour (13, limit 12) while it was suspended for the campaign (its previous suspension for it, S1 at %s): %q", T1.Format(time.DateTime), line)
	}
	if rs7Voided(r, "stolen", res.ID, T1) {
		t.Errorf("S1, the suspension for the campaign during which it crossed a limit, is voided: it counts toward no escalation")
	}
}

// TestReviewRspare7CrossedThenOtherSuspensionVoided: claim (4) and the
// man page ("count toward no escalation, except those of an account kept
// out by a limit it crossed"). The stolen account crosses networks while
// suspended for the campaign (S1, recorded `crossed`); S1 ends; the botnet
// logs in from 13 networks and milterd suspends it for networks (S2). The
// spare's crossed() looks only at a suspension in force for the campaign:
// the account is judged "spared", spareAccount finds it suspended for
// something else ("stays suspended") and voids S1: the campaign's
// suspension of an account that crossed a limit while in it no longer
// counts toward limits.escalate.
func TestReviewRspare7CrossedThenOtherSuspensionVoided(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T1 := now.Add(-26 * time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T1.Add(-5*time.Minute), "s0", "s1", "s2", "s3", "stolen")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T1
	if _, err := r.eng.SuspendCampaign(r.ctx, "stolen", *c, T1); err != nil {
		t.Fatal(err)
	}
	for i := range 13 {
		r.clock = T1.Add(time.Duration(10+i) * time.Minute)
		r.login("stolen", fmt.Sprintf("203.0.%d.9", i))
	}
	if len(rs7Crossings(r, "stolen")) == 0 {
		t.Fatal("no crossing recorded during S1")
	}
	T2 := now.Add(-30 * time.Minute).Truncate(time.Minute)
	for i := range 13 {
		r.clock = T2.Add(time.Duration(i) * time.Minute)
		r.login("stolen", fmt.Sprintf("198.18.%d.9", i))
	}
	s := r.suspended("stolen")
	if s == nil || s.Signal != limits.SignalNetworks {
		t.Fatalf("S2 (networks) not in force: %+v", s)
	}
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "stolen")
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	t.Logf("spare: %s", line)
	if rs7Voided(r, "stolen", res.ID, T1) {
		t.Errorf("the campaign's suspension S1 (%s), during which the account crossed networks_per_hour, is voided by the spare (line %q): it counts toward no escalation", T1.Format(time.DateTime), line)
	}
	if listed, err := st.SparedAccount(r.ctx, res.ID, "stolen", time.Time{}, 0); err != nil || listed {
		t.Errorf("listed in the spare (%v %v): its next copies of the campaign, once S2 ends, suspend it no more", listed, err)
	}
}

// rs7LiftHook is the store the desk's milterctl uses; after a real
// LiftCampaign it runs after (milterd, at the same moment, on another
// host or process).
type rs7LiftHook struct {
	*limits.SQLStore
	after func(key string)
}

func (h *rs7LiftHook) LiftCampaign(ctx context.Context, key, id string) (bool, error) {
	ok, err := h.SQLStore.LiftCampaign(ctx, key, id)
	if ok && err == nil && h.after != nil {
		h.after(key)
	}
	return ok, err
}

// TestReviewRspare7VoidAfterLiftEscalates: claim (4), the void written
// after the lift (3ab9c05). An innocent signer with one automatic
// suspension 10 days ago (undeliverable) is suspended for the petition
// (its 2nd). The desk spares the petition; between the lift and the void
// (the unsuspended audit line, settle: held mail released on this host,
// then VoidCampaign's trail read and write) milterd suspends the signer
// for 10 undeliverable recipients (its petition copies' bounces, say).
// Escalation (shipped: after 3 within 30d) counts the petition's
// suspension, not yet voided: the new one is the 3rd, escalated, until an
// operator lifts it. Voided first (the order before 3ab9c05), it is the
// 2nd: 24 hours.
func TestReviewRspare7VoidAfterLiftEscalates(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	r.eng.Escalate = limits.Escalation{After: 3, Within: 30 * limits.Day}
	now := time.Now()
	r.clock = now.Add(-10 * limits.Day)
	if s := r.bounce("signer", 10, 0); s == nil {
		t.Fatal("first suspension (undeliverable) not made")
	}
	T := now.Add(-time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T.Add(-5*time.Minute), "s0", "s1", "s2", "s3", "signer")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T
	if s, err := r.eng.SuspendCampaign(r.ctx, "signer", *c, T); err != nil || s == nil {
		t.Fatal(s, err)
	}
	var during *limits.Suspension
	hook := &rs7LiftHook{SQLStore: st, after: func(key string) {
		if key != "signer" {
			return
		}
		r.clock = time.Now()
		during = r.bounce("signer", 10, 100)
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spare: %s", lineOf(lines, "signer"))
	if during == nil {
		t.Fatal("no suspension in the window")
	}
	t.Logf("milterd's suspension right after the lift: %s (escalated %v)", during.Reason, during.Escalated)
	if during.Escalated {
		t.Errorf("a signer spared of the petition, suspended (undeliverable) right after the lift, before the void: escalated until an operator lifts it, counting the spared campaign's suspension (%s)", during.Reason)
	}
}

// rs7SpareHook runs after when the spare is recorded: after every sender
// was judged (crossed()), before any lift.
type rs7SpareHook struct {
	*limits.SQLStore
	after func()
}

func (h *rs7SpareHook) SpareCampaign(ctx context.Context, id, op string, now time.Time, accounts []string) error {
	err := h.SQLStore.SpareCampaign(ctx, id, op, now, accounts)
	if h.after != nil {
		h.after()
	}
	return err
}

// TestReviewRspare7CrossedBetweenJudgeAndLift: claim (1)/(4). crossed()
// reads each sender's `crossed` records while judging; the lifts come
// after every sender is judged and every spare recorded (1010 senders:
// minutes). A crossing milterd records in between (the stolen account's
// run's bounces: 10 undeliverable recipients while suspended, recorded
// `crossed` before the lift) is not read again: the lift frees the account
// and voids its suspension for the campaign.
func TestReviewRspare7CrossedBetweenJudgeAndLift(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T := now.Add(-time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T.Add(-5*time.Minute), "s0", "s1", "s2", "s3", "stolen")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T
	if _, err := r.eng.SuspendCampaign(r.ctx, "stolen", *c, T); err != nil {
		t.Fatal(err)
	}
	hook := &rs7SpareHook{SQLStore: st, after: func() {
		r.clock = time.Now()
		r.bounce("stolen", 10, 0)
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("crossed before the lift: %v", rs7Crossings(r, "stolen"))
	t.Logf("spare: %s", lineOf(lines, "stolen"))
	if len(rs7Crossings(r, "stolen")) > 0 && r.suspended("stolen") == nil {
		t.Errorf("lifted, though a `crossed` record (after its suspension began) was in its trail before the lift; voided: %v", rs7Voided(r, "stolen", res.ID, T))
	}
}
