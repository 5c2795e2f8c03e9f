package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewRspare9PutBackCountsOnce: claim (3), review rspare9. The
// docs: a suspension put back after the spare's lift is "recorded again
// after the spare's void, so that it counts toward escalation as before".
// The void (VoidCampaign, before the lift) voids every suspension of the
// account for the campaign so far; the put-back records one. A stolen
// account the petition's run suspended twice (the first ended, its next
// copy suspended it again), that sent a phishing run while the desk
// spared the petition, had 2 automatic suspensions counting; after the
// spare put its suspension back, 1. Its next suspension (the phishing
// run's, after the put-back one ends) is its 3rd within 30 days with the
// shipped escalate (3 in 30d), and is not escalated.
func TestReviewRspare9PutBackCountsOnce(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	r.eng.Escalate = limits.Escalation{After: 3, Within: 30 * limits.Day}
	now := time.Now()
	T := now.Add(-time.Hour).Truncate(time.Minute)
	res := r.suspendedSigner("phisher", T.Add(-3*limits.Day)) // first suspension for the petition, over (24h)
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T
	if s, err := r.eng.SuspendCampaign(r.ctx, "phisher", *c, T); err != nil || s == nil {
		t.Fatal("second suspension for the petition not made", s, err)
	}
	var phish limits.CampaignResult
	hook := &rs8BeforeLift{SQLStore: st, before: func(key string) {
		if key == "phisher" && phish.ID == "" {
			phish = campaignOf(t, st, "phish", time.Now(), "p0", "p1", "p2", "p3", "phisher")
		}
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	t.Logf("spare: %q %v", lineOf(lines, "phisher"), err)
	if phish.ID == "" {
		t.Fatal("no lift attempted")
	}
	if r.suspended("phisher") == nil {
		t.Fatal("not put back")
	}
	pc, err := st.CampaignByID(r.ctx, phish.ID)
	if err != nil || pc == nil {
		t.Fatal(pc, err)
	}
	later := T.Add(25 * time.Hour)
	r.clock = later
	s3, err := r.eng.SuspendCampaign(r.ctx, "phisher", *pc, later)
	if err != nil || s3 == nil {
		t.Fatal(s3, err)
	}
	t.Logf("3rd automatic suspension within 30 days: escalated %v (%s)", s3.Escalated, s3.Reason)
	for _, ev := range trailOf(t, r, "phisher") {
		t.Logf("trail: %s %s %s %s %q", ev.Time.Format(time.DateTime+".000"), ev.Event, ev.By, ev.Campaign, ev.Detail)
	}
	if !s3.Escalated {
		t.Errorf("3rd automatic suspension within 30 days (two for the petition, then the phishing run's) not escalated: the spare's void took both, the put-back recorded one")
	}
}

func trailOf(t *testing.T, r *rs6, acct string) []limits.AuditEvent {
	tr, err := r.st.AuditTrail(r.ctx, acct, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestReviewRspare9SuspendedAgainForOtherSignalSpared: claim (1)/(4),
// review rspare9. The docs: one "that crossed a limit while it was
// suspended, at any time since its first suspension for the campaign (in
// that suspension or another) ... is left out of the spare: not listed
// (its next copy suspends it) ... its suspensions for the campaign still
// count toward limits.escalate". A stolen account the campaign suspended
// (24h); the suspension ends; its run's bounces then suspend it for
// undeliverable recipients (10 within an hour), and keep coming while it
// is suspended for them (20 in the hour: twice the limit, its own signal,
// no `crossed` since 4247e44). Had the same bounces come a day earlier,
// while the campaign's suspension was in force, it would be left out.
// Here a limit crossed since the campaign's first suspension made a whole
// new suspension, and the spare lists it and voids its campaign
// suspension: once the bounce suspension ends, its next copies of the
// campaign (the run going on keeps the spare in force) suspend it no more.
func TestReviewRspare9SuspendedAgainForOtherSignalSpared(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T0 := now.Add(-30 * time.Hour).Truncate(time.Minute)
	res := r.suspendedSigner("stolen", T0)
	r.clock = T0.Add(25 * time.Hour) // the campaign's suspension is over
	if s := r.bounce("stolen", 10, 0); s == nil {
		t.Fatal("no suspension for undeliverable recipients")
	}
	r.clock = T0.Add(25*time.Hour + 30*time.Minute)
	r.bounce("stolen", 10, 10) // while suspended for them
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spare: %q", lineOf(lines, "stolen"))
	listed, err := st.SparedAccount(r.ctx, res.ID, "stolen", time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	voided := rs7Voided(r, "stolen", res.ID, T0)
	t.Logf("listed in the spare: %v; its campaign suspension voided: %v", listed, voided)
	if listed || voided {
		t.Errorf("a stolen account suspended again since the campaign's first suspension (20 undeliverable recipients within an hour, limit 10) is spared: listed %v, voided %v", listed, voided)
	}
}

// TestReviewRspare9TwoSparedOneNeverSuspended: claim (1), review
// rspare9. A stolen account among the senders of two campaigns the desk
// spares together (campaigns spare P1 P2, the documented way for a
// sender of two): P1 suspended it; P2, established while it was
// suspended, recorded nothing. While suspended it crossed a limit (10
// undeliverable recipients within an hour: `crossed` in its trail). P1's
// spare leaves it out; P2's judgement reads crossings only since P2's
// first suspension of it, which there is none of, so P2's spare lists it:
// P2's run goes on suspending it no more.
func TestReviewRspare9TwoSparedOneNeverSuspended(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T := now.Add(-time.Hour).Truncate(time.Minute)
	p1 := r.suspendedSigner("stolen", T)
	p2 := campaignOf(t, st, "phish", T.Add(10*time.Minute), "p0", "p1", "p2", "p3", "stolen")
	r.clock = T.Add(20 * time.Minute)
	r.bounce("stolen", 10, 0)
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{p1.ID, p2.ID}, QueuedStay, "desk")
	t.Logf("spare: %q %v", lines, err)
	for _, id := range []string{p1.ID, p2.ID} {
		listed, err := st.SparedAccount(r.ctx, id, "stolen", time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: stolen listed %v", id, listed)
		if listed {
			t.Errorf("an account that crossed a limit while suspended is listed in %s's spare", id)
		}
	}
}

// TestReviewRspare9PutBackBehindClockVoided: claim (3), review rspare9.
// The suspension put back is recorded "a millisecond after" the void by
// the desk's clock (now+1ms), the void by milterd's (the last suspension's
// time). The docs allow the hosts' clocks 4 minutes apart (ClockSlack);
// with milterd's clock 1 minute ahead of the desk's host, a spare within
// that minute of the suspension records the put-back before the void: it
// is voided too, and counts toward no escalation (the rspare8 case
// TestReviewRspare8PutBackAfterVoidForgets, with skewed clocks).
func TestReviewRspare9PutBackBehindClockVoided(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	r.eng.Escalate = limits.Escalation{After: 3, Within: 30 * limits.Day}
	now := time.Now()
	r.clock = now.Add(-10 * limits.Day)
	if s := r.bounce("phisher", 10, 0); s == nil {
		t.Fatal("first suspension (undeliverable) not made")
	}
	T := now.Add(time.Minute) // milterd's clock, a minute ahead of milterctl's host
	res := r.suspendedSigner("phisher", T)
	var phish limits.CampaignResult
	hook := &rs8BeforeLift{SQLStore: st, before: func(key string) {
		if key == "phisher" && phish.ID == "" {
			phish = campaignOf(t, st, "phish", T.Add(time.Second), "p0", "p1", "p2", "p3", "phisher")
		}
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	t.Logf("spare: %q %v", lineOf(lines, "phisher"), err)
	if phish.ID == "" || r.suspended("phisher") == nil {
		t.Fatal("no put-back")
	}
	c, err := st.CampaignByID(r.ctx, phish.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	later := T.Add(25 * time.Hour)
	r.clock = later
	s3, err := r.eng.SuspendCampaign(r.ctx, "phisher", *c, later)
	if err != nil || s3 == nil {
		t.Fatal(s3, err)
	}
	for _, ev := range trailOf(t, r, "phisher") {
		t.Logf("trail: %s %s %s %s", ev.Time.Format(time.DateTime+".000"), ev.Event, ev.By, ev.Campaign)
	}
	if !s3.Escalated {
		t.Errorf("3rd automatic suspension within 30 days not escalated: the put-back, stamped by the desk's clock a minute behind milterd's, is before the void and voided")
	}
}

// TestReviewRspare9CrossedJustBeforeLift: claim (1), review rspare9.
// spareAccount judges the account again, then reads every campaign kept
// (KeptCampaigns), asks OtherUnspared, writes the void and only then
// lifts; nothing is judged after the lift. The run's bounces (10
// undeliverable recipients: `crossed`) landing in that window (the kept
// campaigns' read grows with the store) leave the stolen account lifted
// and listed in the spare, though it crossed a limit while suspended.
func TestReviewRspare9CrossedJustBeforeLift(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T := now.Add(-time.Hour).Truncate(time.Minute)
	res := r.suspendedSigner("stolen", T)
	done := false
	hook := &rs8BeforeLift{SQLStore: st, before: func(key string) {
		if key == "stolen" && !done {
			done = true
			r.clock = time.Now()
			r.bounce("stolen", 10, 0)
		}
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	t.Logf("spare: %q %v", lineOf(lines, "stolen"), err)
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	listed, err := st.SparedAccount(r.ctx, res.ID, "stolen", time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	susp := r.suspended("stolen") != nil
	t.Logf("suspended %v, listed %v", susp, listed)
	if !susp || listed {
		t.Errorf("a limit crossed while suspended, just before the lift: suspended %v, listed in the spare %v", susp, listed)
	}
}

// rs9NoSuspendedAudit fails the audit write of a suspension (a store
// blip: "the suspension is in force; only its trail is missing").
type rs9NoSuspendedAudit struct{ *limits.SQLStore }

func (s *rs9NoSuspendedAudit) Audit(ctx context.Context, ev limits.AuditEvent) error {
	if ev.Event == limits.AuditSuspended {
		return errors.New("store blip")
	}
	return s.SQLStore.Audit(ctx, ev)
}

// TestReviewRspare9LostSuspendedAuditSkipsCrossings: claim (1), review
// rspare9. autoSuspend logs a failed audit write of a suspension as only
// its trail missing. The spare finds the campaign's first suspension of
// an account in the trail (or in the suspension in force): a stolen
// account whose suspension for the campaign was not recorded, that
// crossed a limit while suspended (`crossed` recorded), is spared once
// that suspension is over: no first suspension, no crossing read.
func TestReviewRspare9LostSuspendedAuditSkipsCrossings(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T := now.Add(-30 * time.Hour).Truncate(time.Minute)
	r.eng.Store = &rs9NoSuspendedAudit{st}
	res := r.suspendedSigner("stolen", T)
	r.eng.Store = st
	r.clock = T.Add(time.Hour)
	r.bounce("stolen", 10, 0) // while suspended for the campaign
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	t.Logf("spare: %q %v", lineOf(lines, "stolen"), err)
	listed, err := st.SparedAccount(r.ctx, res.ID, "stolen", time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range trailOf(t, r, "stolen") {
		t.Logf("trail: %s %s %s %s", ev.Time.Format(time.DateTime), ev.Event, ev.By, ev.Campaign)
	}
	if len(rs7Crossings(r, "stolen")) == 0 {
		t.Fatal("no crossing recorded")
	}
	if listed {
		t.Errorf("a stolen account that crossed a limit while suspended for the campaign is listed in its spare: its suspension's audit write had failed")
	}
}
