package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/campaign"
	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// Review rspare8 (issue 28, "campaigns spare", 5f5dfae: the void before
// the lift, LiftSpared's void hook).

// rs8BeforeLift is the desk's store; just before a real LiftCampaign of
// key it runs before (milterd, on another host, at that moment).
type rs8BeforeLift struct {
	*limits.SQLStore
	before func(key string)
}

func (h *rs8BeforeLift) LiftCampaign(ctx context.Context, key, id string) (bool, error) {
	if h.before != nil {
		h.before(key)
	}
	return h.SQLStore.LiftCampaign(ctx, key, id)
}

// TestReviewRspare8PutBackAfterVoidForgets: claim (3). LiftSpared now
// voids (VoidCampaign) once the account is judged liftable, before the
// lift; the lift is then checked again (OtherUnspared after it) and, when
// a campaign was established in between that found the account suspended
// and recorded nothing, the suspension is put back (reviews rspare3,
// rspare4). The void written before it stays: the phishing sender's
// suspension for the spared petition, put back, counts toward no
// escalation (what 3ab9c05's "void after the lift" fixed, review rspare6:
// "a phishing sender's suspension for the spared campaign, put back,
// still counts"). Shipped escalation: 3 within 30d. The phisher: one
// suspension 10 days ago (undeliverable), the petition's (2nd) an hour
// ago; the spare says "left as it is"; its next suspension (the phishing
// campaign's, once the put-back one is over) is its 3rd and must be
// escalated; it is a 24h one.
func TestReviewRspare8PutBackAfterVoidForgets(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	r.eng.Escalate = limits.Escalation{After: 3, Within: 30 * limits.Day}
	now := time.Now()
	r.clock = now.Add(-10 * limits.Day)
	if s := r.bounce("phisher", 10, 0); s == nil {
		t.Fatal("first suspension (undeliverable) not made")
	}
	T := now.Add(-time.Hour).Truncate(time.Minute)
	res := r.suspendedSigner("phisher", T)
	var phish limits.CampaignResult
	hook := &rs8BeforeLift{SQLStore: st, before: func(key string) {
		if key == "phisher" && phish.ID == "" {
			// milterd establishes a phishing campaign the phisher sent
			// (it was suspended: nothing recorded for it).
			phish = campaignOf(t, st, "phish", time.Now(), "p0", "p1", "p2", "p3", "phisher")
		}
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "phisher")
	t.Logf("spare: %s", line)
	if phish.ID == "" {
		t.Fatal("no lift attempted")
	}
	s := r.suspended("phisher")
	if s == nil {
		t.Fatalf("not put back: %q", line)
	}
	voided := rs7Voided(r, "phisher", res.ID, T)
	t.Logf("put back (since %s, %s); its petition suspension voided: %v", s.Since.Format(time.DateTime), s.Reason, voided)
	// (Mended: a put back after the void undoes it: what counts is
	// asserted below, the escalation.)
	// The put-back suspension ends (24h); the phisher's next phishing
	// copy suspends it for the phishing campaign: its 3rd within 30 days.
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
	t.Logf("3rd automatic suspension within 30 days: escalated %v, until %s", s3.Escalated, s3.Until.Format(time.DateTime))
	if !s3.Escalated {
		t.Errorf("the phisher's 3rd automatic suspension within 30 days (shipped escalate: after 3 within 30d) is not escalated: the petition's suspension, put back, was voided before the lift")
	}
}

// TestReviewRspare8CrossedAtLiftStillListed: claims (1)/(4). The docs: an
// account that crossed a limit while suspended since the campaign first
// suspended it is "left out of the spare: not listed (its next copy
// suspends it)", and the man page's "not spared". The judgement before
// the spare is recorded found no crossing; the stolen account's run's
// bounces (10 undeliverable recipients while suspended: `crossed`) come
// after the spare is recorded, before its lift. spareAccount judges it
// again and keeps it suspended, saying "not spared", but the spare
// recorded before (cs.SpareCampaign, all senders judged spared) still
// lists it: once its suspension ends (24h), the botnet's next copies of
// the campaign, which keep the spare in force (TouchSpare), are spared:
// the campaign never suspends it again. (docs/suspension.md's "one
// crossing after that is listed in the spare, suspended" may mean this;
// then the line "not spared" and the man page's "not spared ... (it
// crossed a limit while suspended since the campaign first suspended it)"
// are what is false, and the run's copies after its suspension are
// spared.)
func TestReviewRspare8CrossedAtLiftStillListed(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T := now.Add(-time.Hour).Truncate(time.Minute)
	res := r.suspendedSigner("stolen", T)
	hook := &rs7SpareHook{SQLStore: st, after: func() {
		r.clock = time.Now()
		r.bounce("stolen", 10, 0)
	}}
	lines, err := newActions(cfg, nil, hook).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "stolen")
	t.Logf("crossed: %v", rs7Crossings(r, "stolen"))
	t.Logf("spare: %s", line)
	if r.suspended("stolen") == nil {
		t.Fatalf("lifted: %q", line)
	}
	listed, err := st.SparedAccount(r.ctx, res.ID, "stolen", time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The petition's run goes on (a signer's copy every 10 minutes keeps
	// the spare in force, TouchSpare); the stolen account's suspension
	// over (suspend_for 24h), the botnet sends the run again: milterd's
	// read of the spare for its copy (TouchSpare).
	later := T.Add(25 * time.Hour)
	for at := T; at.Before(later); at = at.Add(10 * time.Minute) {
		if _, err := st.TouchSpare(r.ctx, res.ID, "s0", at, 15*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	spared, err := st.TouchSpare(r.ctx, res.ID, "stolen", later, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("listed in the spare: %v; its copy at %s spared: %v", listed, later.Format(time.DateTime), spared)
	if listed || spared {
		t.Errorf("line %q, yet the stolen account is listed in the campaign's spare (listed %v): its copies once its suspension ends are spared (%v), never suspended for the campaign", line, listed, spared)
	}
}

// rs8Engine is milterd's engine on host (the shipped limits, suspend_for
// 24h) over st, its clock at now() + off.
func rs8Engine(t *testing.T, st limits.Store, host string, off time.Duration) *limits.Engine {
	def := limits.Limits{}
	for _, k := range limits.Kinds {
		*k.Field(&def) = k.Default
	}
	pol, err := limits.NewPolicy(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &limits.Engine{Store: st, Policy: pol, SuspendFor: limits.Day, OnSuspended: policy.Tempfail,
		Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: host}, Now: func() time.Time { return time.Now().Add(off) }}
}

// TestReviewRspare8SkewedHostsCrossingIgnored: claim (1). A fleet on
// Redis, each smarthost within the shipped max_clock_skew (120s) of
// Redis: mx1's clock 100s ahead, mx2's 100s behind. mx1 suspends the
// stolen account for the campaign (its `suspended` event at mx1's time);
// a minute later mx2's mail-log follower counts the stolen account's run's
// bounces, the 10th undeliverable recipient within the hour
// (undeliverable_per_hour 10) while it is suspended: milterd records
// `crossed` at mx2's time, 40s before the suspension's event by the
// trail's times. crossed() reads crossings after the campaign's first
// suspension (CrossedSince(first - 1ms)): the spare frees the stolen
// account and voids its suspension. A control account, not suspended,
// with the same bounces is suspended for them.
func TestReviewRspare8SkewedHostsCrossingIgnored(t *testing.T) {
	cfg, st, _ := redisActions(t)
	ctx := context.Background()
	mx1 := rs8Engine(t, st, "mx1", 100*time.Second)
	mx2 := rs8Engine(t, st, "mx2", -100*time.Second)
	now := time.Now()
	res := campaignOf(t, st, "petition", now.Add(-5*time.Minute), "s0", "s1", "s2", "s3", "stolen")
	c, err := st.CampaignByID(ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	if s, err := mx1.SuspendCampaign(ctx, "stolen", *c, mx1.Now()); err != nil || s == nil {
		t.Fatal(s, err)
	}
	// A minute later (real time), on mx2: 10 bounces of the run.
	bounce := func(acct string) *limits.Suspension {
		at := mx2.Now().Add(time.Minute)
		var evs []limits.Undeliverable
		for i := range 10 {
			evs = append(evs, limits.Undeliverable{ID: fmt.Sprintf("log:mx2:Q%s%d:x%d@gone.example", acct, i, i), Kind: limits.KindRecipient, Time: at.Add(-time.Duration(10-i) * time.Second),
				Rcpt: fmt.Sprintf("x%d@gone.example", i), Status: "5.1.1", Source: "log"})
		}
		mx2.Now = func() time.Time { return time.Now().Add(-100*time.Second + time.Minute) }
		s, err := mx2.Undeliverable(ctx, acct, evs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := bounce("control"); s == nil {
		t.Fatal("the control account, not suspended, with the same 10 bounces is not suspended")
	}
	bounce("stolen")
	trail, err := st.AuditTrail(ctx, "stolen", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range trail {
		t.Logf("trail: %s %s by %s on %s: %s", ev.Time.Format(time.TimeOnly), ev.Event, ev.By, ev.Host, ev.Detail)
	}
	lines, err := newActions(cfg, nil, st).SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	line := lineOf(lines, "stolen")
	t.Logf("spare: %s", line)
	_, s, err := st.Usage(ctx, "stolen", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Active(time.Now()) {
		t.Errorf("the spare freed the stolen account, whose 10th undeliverable recipient within the hour (undeliverable_per_hour 10) milterd recorded `crossed` while it was suspended for the campaign (a minute after, on a host 200s behind the suspending one, both within max_clock_skew 120s of Redis): %q", line)
	}
}

// TestReviewRspare8OneMessageCrossesTwice: claim (2), an innocent signer
// harmed. Two signers of the petition, suspended for it 30 hours ago (S1,
// over after suspend_for 24h). Two hours ago each sent one message to a
// stale list: 11 recipients refused for good (5.1.1). The control's were
// refused after queueing (the mail log: one batch); the signer's at RCPT
// (RejectedRcpt, the MTA refusing in the session). Each is suspended for
// undeliverable recipients (S2, its own limit, the same evidence). But at
// RCPT the 10th recipient suspends the signer and the 11th, of the same
// message, is counted "while suspended": milterd records `crossed` for
// the limit the same message crossed a recipient earlier. The spare of the
// petition then treats the signer as a stolen account: "not spared", not
// listed (its next petition copy suspends it: S3, its 3rd automatic
// suspension within 30 days: escalated, until an operator lifts it), S1
// not voided; the control, with the same mail, is spared (listed, S1
// voided).
func TestReviewRspare8OneMessageCrossesTwice(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	r.eng.Escalate = limits.Escalation{After: 3, Within: 30 * limits.Day} // shipped
	now := time.Now()
	T1 := now.Add(-30 * time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T1.Add(-5*time.Minute), "s0", "s1", "control", "s3", "signer")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T1
	for _, a := range []string{"control", "signer"} {
		if s, err := r.eng.SuspendCampaign(r.ctx, a, *c, T1); err != nil || s == nil {
			t.Fatal(s, err)
		}
	}
	r.clock = now.Add(-2 * time.Hour)
	if s := r.bounce("control", 11, 0); s == nil {
		t.Fatal("control: 11 undeliverable recipients suspended nothing")
	}
	tx := &policy.Transaction{ID: "m1", User: "signer", From: "signer@isp.example", Conn: policy.Conn{Addr: netip.MustParseAddr("198.51.100.7")}}
	if v := r.login("signer", "198.51.100.7"); v.Action != policy.Accept {
		t.Fatalf("signer refused at MAIL: %+v", v)
	}
	if _, err := r.eng.CheckMail(r.ctx, tx); err != nil {
		t.Fatal(err)
	}
	for i := range 11 {
		rc := fmt.Sprintf("old%d@gone.example", i)
		tx.Rcpts = append(tx.Rcpts, rc)
		if err := r.eng.RejectedRcpt(r.ctx, tx, policy.Recipient{Addr: rc, Status: "5.1.1", Text: "User unknown"}); err != nil {
			t.Fatal(err)
		}
	}
	if r.suspended("signer") == nil {
		t.Fatal("signer: 11 refused recipients suspended nothing")
	}
	t.Logf("signer's crossings: %v; control's: %v", rs7Crossings(r, "signer"), rs7Crossings(r, "control"))
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range []string{"control", "signer"} {
		listed, err := st.SparedAccount(r.ctx, res.ID, a, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[a] = fmt.Sprintf("listed %v, S1 voided %v", listed, rs7Voided(r, a, res.ID, T1))
		t.Logf("%s: %s; %s", a, lineOf(lines, a), out[a])
	}
	if out["signer"] != out["control"] {
		t.Errorf("the same mail (11 recipients refused in one message), refused at RCPT rather than after queueing: the signer is judged a stolen account (%s), the control spared (%s)", out["signer"], out["control"])
	}
	// S2 over, both sign the petition's next run (a new run under its
	// id: the spare is stale) and are suspended for it: S3.
	later := now.Add(23 * time.Hour)
	r.clock = later
	esc := map[string]bool{}
	for _, a := range []string{"control", "signer"} {
		s3, err := r.eng.SuspendCampaign(r.ctx, a, *c, later)
		if err != nil || s3 == nil {
			t.Fatal(s3, err)
		}
		esc[a] = s3.Escalated
	}
	t.Logf("S3 escalated (until an operator lifts it): control %v, signer %v", esc["control"], esc["signer"])
	if esc["signer"] != esc["control"] {
		t.Errorf("the signer's 3rd suspension is escalated (%v), the control's not (%v): the petition's S1, judged innocent, still counts for the signer", esc["signer"], esc["control"])
	}
}

// TestReviewRspare8EngineLiftPutBackVoided: claim (3)/(4), milterd's own
// lift (campaign.Engine.suspendUnspared: suspended, then found spared,
// LiftSpared with its void). As review rspare4's
// TestReviewRspare4EngineLiftFreesOtherCampaignSender, but Q's fifth
// sender establishes Q (X suspended for P: Q records nothing) while
// milterd's LiftSpared is past its first read of X's other campaigns,
// just before its lift. The re-read after the lift finds Q and puts X's
// suspension for P back, as docs/suspension.md says ("one read again
// after the lift, by milterctl or milterd, puts the suspension back ...,
// and its suspension for the spared campaign is not voided"); but its
// `spared` event, written before the lift, voids it: X, a sender of the
// unspared phishing campaign Q, has its suspension for P counting toward
// no escalation.
func TestReviewRspare8EngineLiftPutBackVoided(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	lim := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
		Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day}
	h := &hookStore{SQLStore: st}
	eng := campaign.New(campaign.Options{Store: h, Limits: lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
		SharedDomains: []string{"isp.example"}, Seed: campaign.FixedSeed(campaign.Seed{}), Log: lim.Log, Now: func() time.Time { return now }})
	send := func(i int, acct string) policy.Verdict {
		now = now.Add(time.Minute)
		rcpt, raw := hamgen.Phish(i, false)
		v, err := eng.Commit(ctx, &policy.Transaction{User: acct, Rcpts: []string{rcpt}, Message: bytes.NewReader(raw), QueueID: fmt.Sprint("Q", i)})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range 5 {
		send(i, fmt.Sprintf("victim%d@isp.example", i))
	}
	cs, _ := st.Campaigns(ctx, time.Time{}, 5)
	if len(cs) != 1 {
		t.Fatalf("campaigns %v", cs)
	}
	idP := cs[0].ID
	const X = "x@isp.example"
	if res := campaignOf(t, st, "phishq", now, "q1", "q2", "q3", X); res.ID != "" {
		t.Fatalf("Q established too early: %+v", res)
	}
	other := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx2"}}
	var lines []string
	var serr error
	var idQ string
	h.afterSpareRead = func(string) {
		lines, serr = newActions(cfg, nil, st).SpareCampaign(ctx, []string{idP}, QueuedStay, "desk")
		h.afterSpareRead = nil
		h.beforeLift = func(key string) {
			if key != X || idQ != "" {
				return
			}
			res := campaignOf(t, st, "phishq", now, "q4")
			if !res.New {
				t.Fatalf("Q not established: %+v", res)
			}
			idQ = res.ID
			q, _ := st.CampaignByID(ctx, res.ID)
			for _, a := range res.Accounts {
				if _, err := other.SuspendCampaign(ctx, a, *q, now); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	v := send(5, X)
	t.Logf("spare of %s: err %v\n%s", idP, serr, strings.Join(lines, "\n"))
	if idQ == "" {
		t.Fatal("the race did not run")
	}
	_, sx, _ := st.Usage(ctx, X, now)
	trail, err := st.AuditTrail(ctx, X, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// (Mended: a put back after the void undoes it: the automatic
	// suspension for P counts.)
	counting := 0
	for _, ev := range trail {
		t.Logf("X's trail: %s %s by %s (campaign %s): %s", ev.Time.Format(time.StampMilli), ev.Event, ev.By, ev.Campaign, ev.Detail)
		// limits' rule: voided by a spare at or after it, unless a put
		// back at or after that spare undid it
		if ev.By == "milterd" && ev.Event == limits.AuditSuspended && ev.Campaign == idP && !slices.ContainsFunc(trail, func(sp limits.AuditEvent) bool {
			return sp.Event == limits.AuditSpared && sp.Campaign == idP && !sp.Time.Before(ev.Time) && !slices.ContainsFunc(trail, func(pb limits.AuditEvent) bool {
				return pb.Event == limits.AuditPutBack && pb.Campaign == idP && !pb.Time.Before(sp.Time)
			})
		}) {
			counting++
		}
	}
	t.Logf("X's P copy: %s; X suspended: %v; its P suspensions counting toward escalation: %d", v.Action, sx != nil, counting)
	if sx == nil {
		t.Fatal("not put back")
	}
	if counting != 1 {
		t.Errorf("milterd put X's suspension for %s back (X sent the unspared phishing campaign %s), yet voided it before the lift: %d of its suspensions for it count toward escalation, want 1", idP, idQ, counting)
	}
}

// TestReviewRspare8NextBounceCrossesOwnSuspension: claim (2), the same as
// TestReviewRspare8OneMessageCrossesTwice through the mail log only: the
// signer's 11 bounces are read in two batches (10, then 1 a few seconds
// later); the 10th suspends it for undeliverable recipients (S2), the 11th,
// in the next batch, finds it suspended (by its own S2) and is recorded
// `crossed` "while suspended". The petition's spare then treats the
// innocent signer as a stolen account (not listed, S1 not voided); the
// control, whose 11 came in one batch, is spared.
func TestReviewRspare8NextBounceCrossesOwnSuspension(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T1 := now.Add(-30 * time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T1.Add(-5*time.Minute), "s0", "s1", "control", "s3", "signer")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T1
	for _, a := range []string{"control", "signer"} {
		if s, err := r.eng.SuspendCampaign(r.ctx, a, *c, T1); err != nil || s == nil {
			t.Fatal(s, err)
		}
	}
	r.clock = now.Add(-2 * time.Hour)
	if s := r.bounce("control", 11, 0); s == nil {
		t.Fatal("control: 11 undeliverable recipients suspended nothing")
	}
	if s := r.bounce("signer", 10, 0); s == nil {
		t.Fatal("signer: 10 undeliverable recipients suspended nothing")
	}
	r.clock = r.clock.Add(5 * time.Second)
	r.bounce("signer", 1, 10)
	t.Logf("signer's crossings: %v; control's: %v", rs7Crossings(r, "signer"), rs7Crossings(r, "control"))
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range []string{"control", "signer"} {
		listed, err := st.SparedAccount(r.ctx, res.ID, a, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[a] = fmt.Sprintf("listed %v, S1 voided %v", listed, rs7Voided(r, a, res.ID, T1))
		t.Logf("%s: %s; %s", a, lineOf(lines, a), out[a])
	}
	if out["signer"] != out["control"] {
		t.Errorf("the same 11 bounces read in two batches: the signer is judged a stolen account (%s), the control spared (%s)", out["signer"], out["control"])
	}
}

// TestReviewRspare8RetryCrossesOwnSuspension: claim (2), networks. The
// signer and the control, suspended for the petition 30 hours ago (S1,
// over), are each suspended for 13 client networks within an hour (S2;
// networks_per_hour 12). The signer's MUA retries its tempfailed mail
// (on_suspended: tempfail) once, from the same address as its 13th
// login: BeginMessage counts 13 networks, over 12, "while suspended", and
// milterd records `crossed` for the suspension's own evidence. The
// petition's spare judges the signer a stolen account; the control,
// whose client did not retry, is spared.
func TestReviewRspare8RetryCrossesOwnSuspension(t *testing.T) {
	cfg, st := actionsConfig(t)
	r := straddleEngine(t, st)
	now := time.Now()
	T1 := now.Add(-30 * time.Hour).Truncate(time.Minute)
	res := campaignOf(t, st, "petition", T1.Add(-5*time.Minute), "s0", "s1", "control", "s3", "signer")
	c, err := st.CampaignByID(r.ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	r.clock = T1
	for _, a := range []string{"control", "signer"} {
		if s, err := r.eng.SuspendCampaign(r.ctx, a, *c, T1); err != nil || s == nil {
			t.Fatal(s, err)
		}
	}
	T2 := now.Add(-2 * time.Hour).Truncate(time.Hour)
	for _, a := range []string{"control", "signer"} {
		for i := range 13 {
			r.clock = T2.Add(time.Duration(i) * time.Minute)
			r.login(a, fmt.Sprintf("203.0.%d.9", 100+i))
		}
		if r.suspended(a) == nil {
			t.Fatalf("%s: 13 networks suspended nothing", a)
		}
	}
	r.clock = T2.Add(17 * time.Minute)
	r.login("signer", "203.0.112.9") // the retry, from its 13th network
	t.Logf("signer's crossings: %v; control's: %v", rs7Crossings(r, "signer"), rs7Crossings(r, "control"))
	lines, err := newActions(cfg, nil, st).SpareCampaign(r.ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range []string{"control", "signer"} {
		listed, err := st.SparedAccount(r.ctx, res.ID, a, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[a] = fmt.Sprintf("listed %v, S1 voided %v", listed, rs7Voided(r, a, res.ID, T1))
		t.Logf("%s: %s; %s", a, lineOf(lines, a), out[a])
	}
	if out["signer"] != out["control"] {
		t.Errorf("one retry of the tempfailed mail after its own networks suspension: the signer is judged a stolen account (%s), the control spared (%s)", out["signer"], out["control"])
	}
}
