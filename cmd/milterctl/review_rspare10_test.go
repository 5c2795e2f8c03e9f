package main

import (
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewRspare10LiftedBeforeCampaignKeptOut: claim (2), review
// rspare10. An innocent customer: at T0 its newsletter's 10 stale
// addresses suspend it (undeliverable, the shipped limit 10); the desk
// judges that wrong and lifts it a minute later (accounts unsuspend). At
// T0+3m it signs the petition, and its copy gets it suspended for the
// campaign. The desk spares the petition. The new rule ("an automatic
// suspension for another signal ... since its first suspension", read from
// 4 minutes before it for the clocks) counts the undeliverable suspension
// that was over, and lifted by the desk, before the campaign ever suspended
// it (all on one milterd, one clock): the signer "stays suspended, not
// spared", and its petition suspension keeps counting toward escalation.
func TestReviewRspare10LiftedBeforeCampaignKeptOut(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T0 := now.Add(-time.Hour).Truncate(time.Minute)
	r.clock = T0
	if s := r.bounce("signer", 10, 0); s == nil {
		t.Fatal("no suspension for undeliverable recipients")
	}
	// The desk lifts it, judged wrong (what accounts unsuspend writes).
	if _, err := st.Unsuspend(r.ctx, "signer", T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.Audit(r.ctx, limits.AuditEvent{Time: T0.Add(time.Minute), Account: "signer", Event: limits.AuditUnsuspended, By: "desk", Host: "ctl"}); err != nil {
		t.Fatal(err)
	}
	res := r.suspendedSigner("signer", T0.Add(3*time.Minute))
	if r.suspended("signer") == nil {
		t.Fatal("the petition did not suspend it")
	}
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "signer")
	t.Logf("spare: %q", line)
	for _, ev := range trailOf(t, r, "signer") {
		t.Logf("trail: %s %s %s %s", ev.Time.Format(time.TimeOnly), ev.Event, ev.By, ev.Campaign)
	}
	if r.suspended("signer") != nil {
		t.Errorf("innocent signer kept suspended by a suspension lifted before the campaign suspended it: %q", line)
	}
}

// TestReviewRspare10RespareAfterPutBackStillCounts: claim (1), review
// rspare10, through milterctl. An innocent customer signed two petitions:
// P suspended it; the desk spares P, and while it does so P2 (a second
// petition it signed) is established: the lift puts its suspension back
// ("put back" in the trail, stamped 1ms after the void). The desk then does
// the documented thing, `campaigns spare P P2`: the account is unsuspended
// (spared). That spare's void is stamped at the put back's time (the last
// of P's events), and voided() lets a put back undo a spare at or before
// it: P's suspension still counts. With the shipped escalate (3 in 30
// days), the account's 2nd genuine automatic suspension afterwards (10
// bounces in an hour, twice) is escalated: until an operator lifts it.
func TestReviewRspare10RespareAfterPutBackStillCounts(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	r.eng.Escalate = limits.Escalation{After: 3, Within: 30 * limits.Day}
	now := time.Now()
	T := now.Add(-6 * time.Hour).Truncate(time.Minute)
	res := r.suspendedSigner("alice", T)
	var p2 limits.CampaignResult
	hook := &rs8BeforeLift{SQLStore: st, before: func(key string) {
		if key == "alice" && p2.ID == "" {
			p2 = campaignOf(t, st, "second", time.Now(), "q0", "q1", "q2", "q3", "alice")
		}
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	t.Logf("first spare: %q %v", lineOf(lines, "alice"), err)
	if p2.ID == "" || r.suspended("alice") == nil {
		t.Fatal("not put back")
	}
	lines, err = newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID, p2.ID}, QueuedStay, "desk")
	t.Logf("spare of both: %q %v", lineOf(lines, "alice"), err)
	if r.suspended("alice") != nil {
		t.Fatal("not spared by the spare of both")
	}
	r.clock = time.Now().Add(2 * time.Hour)
	if s := r.bounce("alice", 10, 0); s == nil || s.Escalated {
		t.Fatalf("1st later suspension: %+v", s)
	}
	if _, err := st.Unsuspend(r.ctx, "alice", r.clock.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.clock = time.Now().Add(4 * time.Hour)
	s := r.bounce("alice", 10, 10)
	for _, ev := range trailOf(t, r, "alice") {
		t.Logf("trail: %s %s %s %s", ev.Time.Format(time.TimeOnly+".000"), ev.Event, ev.By, ev.Campaign)
	}
	if s == nil {
		t.Fatal("2nd later suspension not made")
	}
	if s.Escalated {
		t.Errorf("P spared (with P2) after a put back, yet its suspension counts: the 2nd genuine suspension since is escalated: %s", s.Reason)
	}
}

// TestReviewRspare10AcknowledgedSuspensionKeepsOut: claim (2), review
// rspare10. The petition suspends a customer (24h, over); two days later
// its newsletter's 10 stale addresses suspend it for undeliverable
// recipients; the desk judges that wrong and runs `accounts unsuspend`,
// which acknowledges the account's evidence ("no longer counts toward the
// next suspension"; CrossedSince reads crossings only after it). Then the
// desk spares the petition. The new rule (an automatic suspension for
// another signal since the first suspension) ignores the acknowledgement:
// the signer is "not spared", its petition suspension still counts toward
// escalation, and it is not listed (its next copy of the petition, the run
// still going, suspends it again).
func TestReviewRspare10AcknowledgedSuspensionKeepsOut(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T0 := now.Add(-3 * limits.Day).Truncate(time.Minute)
	res := r.suspendedSigner("signer", T0)
	r.clock = T0.Add(2 * limits.Day)
	if s := r.bounce("signer", 10, 0); s == nil {
		t.Fatal("no suspension for undeliverable recipients")
	}
	out, err := newActions(cfg, nil, st).Unsuspend(r.ctx, "signer", QueuedStay, "desk")
	t.Logf("unsuspend: %q %v", out, err)
	if err != nil || r.suspended("signer") != nil {
		t.Fatal("not unsuspended")
	}
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "signer")
	t.Logf("spare: %q", line)
	listed, err := st.SparedAccount(r.ctx, res.ID, "signer", time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	voided := rs7Voided(r, "signer", res.ID, T0)
	if !listed || !voided {
		t.Errorf("innocent signer, its other suspension lifted and acknowledged by the desk, kept out of the petition's spare: listed %v, voided %v: %q", listed, voided, line)
	}
}
