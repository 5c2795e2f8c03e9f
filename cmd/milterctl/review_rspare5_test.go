package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"outguard/campaign"
	"outguard/config"
	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// Review rspare5 (issue 28, "campaigns spare", design B', 0e5d5d0).

// r5rig is milterd's campaign engine (the shipped defaults: 5 accounts,
// 15m, quarantine, suspend, suspend_for 24h) on the SQLite store of
// campaignsConfig, and the desk's actions on the same store.
type r5rig struct {
	st  *limits.SQLStore
	cfg *config.Config
	eng *campaign.Engine
	now time.Time
}

func newR5Rig(t *testing.T) *r5rig {
	cfgPath, st := campaignsConfig(t)
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	r := &r5rig{st: st, cfg: cfg, now: time.Now().Add(-3 * time.Hour).Truncate(time.Minute)}
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	lim := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
		Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day}
	r.eng = campaign.New(campaign.Options{Store: st, Limits: lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
		SharedDomains: []string{"isp.example"}, Seed: campaign.FixedSeed(campaign.Seed{}), Log: lim.Log, Now: func() time.Time { return r.now }})
	lim.Campaigns = r.eng
	return r
}

// send is one message of acct counted by milterd a minute after the last.
func (r *r5rig) send(t *testing.T, acct, rcpt string, raw []byte) policy.Verdict {
	t.Helper()
	r.now = r.now.Add(time.Minute)
	v, err := r.eng.Commit(context.Background(), &policy.Transaction{User: acct, Rcpts: []string{rcpt}, Message: bytes.NewReader(raw), QueueID: fmt.Sprint("Q", r.now.UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *r5rig) suspended(t *testing.T, accts ...string) (out []string) {
	for _, a := range accts {
		_, s, err := r.st.Usage(context.Background(), a, r.now)
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			out = append(out, a)
		}
	}
	return out
}

// phishRun: copies first..first+n-1 of hamgen.Phish from prefix0..; the
// campaign's id (the last copy's, from the store).
func (r *r5rig) phishRun(t *testing.T, prefix string, first, n int) []string {
	var accts []string
	for i := range n {
		a := fmt.Sprintf("%s%d@isp.example", prefix, i)
		accts = append(accts, a)
		rcpt, raw := hamgen.Phish(first+i, false)
		r.send(t, a, rcpt, raw)
	}
	return accts
}

func (r *r5rig) spare(t *testing.T, id string) []string {
	t.Helper()
	lines, err := newActions(r.cfg, nil, r.st).SpareCampaign(context.Background(), []string{id}, QueuedStay, "desk")
	if err != nil {
		t.Fatalf("spare %s: %v\n%s", id, err, strings.Join(lines, "\n"))
	}
	return lines
}

// TestReviewRspare5RespareOfNewRunIneffective: "a spare is of one run …
// the same text established again after a window without a copy is a new
// run under the same id: it finds the spare stale, and its senders are
// suspended", and the desk's remedy, "run the spare again". The second
// spare keeps the first's record (SQL ON CONFLICT DO NOTHING, Redis
// HSETNX: Last is set only by the first): its Last is the old run's last
// copy, so the new run's spare is stale from the moment it is made. The
// command prints the new run's signers "unsuspended (spared)", and the
// next copy of any of them suspends it again.
func TestReviewRspare5RespareOfNewRunIneffective(t *testing.T) {
	ctx := context.Background()
	r := newR5Rig(t)
	first := r.phishRun(t, "early", 0, 6)
	cs, _ := r.st.Campaigns(ctx, time.Time{}, 10)
	if len(cs) != 1 {
		t.Fatalf("campaigns %v", cs)
	}
	id := cs[0].ID
	r.spare(t, id)
	if s := r.suspended(t, first...); len(s) != 0 {
		t.Fatalf("first run: still suspended after the spare: %v", s)
	}
	// the run ends; two hours later the same petition again (a second
	// wave), new signers: a new run under the same id
	r.now = r.now.Add(2 * time.Hour)
	later := r.phishRun(t, "later", 20, 6)
	cs, _ = r.st.Campaigns(ctx, time.Time{}, 10)
	if len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("second run not under %s: %v", id, cs)
	}
	before := r.suspended(t, later...)
	if len(before) != 6 {
		t.Fatalf("second run: %d of 6 suspended (the spare is stale, they should be)", len(before))
	}
	// the desk judges the second wave innocent too and spares again
	lines := r.spare(t, id)
	afterSpare := r.suspended(t, later...)
	sp, _ := campaignSpared(ctx, r.st, id)
	inForce := 0
	for _, a := range later {
		if ok, _ := r.st.SparedAccount(ctx, id, a, r.now, 15*time.Minute); ok {
			inForce++
		}
	}
	// each signer of the second wave sends one more copy (a follow-up to
	// another MP) within the run
	var again []string
	for i, a := range later {
		rcpt, raw := hamgen.Phish(40+i, false)
		r.send(t, a, rcpt, raw)
		if len(r.suspended(t, a)) == 1 {
			again = append(again, a)
		}
	}
	t.Logf("second spare of %s:\n%s\nspare record: at %s, last %s (second run's last copy %s); second run's signers suspended after the spare %d/6, spared in force %d/6; after one more copy each: %d/6 suspended again",
		id, strings.Join(lines, "\n"), sp.At.Format(time.TimeOnly), sp.Last.Format(time.TimeOnly), r.now.Format(time.TimeOnly), len(afterSpare), inForce, len(again))
	if len(again) > 0 || inForce < 6 {
		t.Errorf("the desk spared the second run of %s (its signers printed unsuspended (spared), %d of 6 lifted), yet its spare is stale at once (Last %s, the first run's, %v before the second run's last copy): %d of 6 signers suspended again by their next copy, spared in force for %d of 6",
			id, 6-len(afterSpare), sp.Last.Format(time.TimeOnly), r.now.Sub(sp.Last).Round(time.Minute), len(again), inForce)
	}
}

// r5lure is a phishing run's copy that carries the spared petition's text
// (hamgen.Phish, public: every recipient has it) below its own lure,
// varied per copy so that its own keys are each sent once.
func r5lure(i int) (string, []byte) {
	rcpt := fmt.Sprintf("mark%d@target%d.example", i, i%5)
	_, p := hamgen.Phish(300+i, false)
	_, body, _ := strings.Cut(string(p), "\n\n")
	lure := fmt.Sprintf("Your parcel %s is held at the depot in %s. Confirm the customs fee of the delivery at the link below within %s hours or it goes back to the sender, says the %s desk of the courier.",
		[]string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"}[i%7], []string{"Leeds", "Lyon", "Graz", "Turin", "Porto", "Ghent", "Cork"}[i%7],
		[]string{"twelve", "twenty", "thirty", "forty", "sixty", "eighty", "ninety"}[i%7], []string{"north", "south", "east", "west", "central", "harbour", "airport"}[i%7])
	raw := fmt.Sprintf("From: Courier <track@isp.example>\nTo: <%s>\nSubject: Parcel %d\nMIME-Version: 1.0\nContent-Type: text/plain\n\n%s\n\n%s", rcpt, i, lure, body)
	return rcpt, []byte(raw)
}

// TestReviewRspare5StaleSpareFreesOtherRun: "an account that also sent
// another campaign the desk has not spared … is left as it is", with B”s
// "the desk's spare of another campaign (any) stops it counting".
// OtherUnspared asks whether the other campaign HAS a spare record, not
// whether it is in force: a spare gone stale (its petition over hours
// ago; the record kept 7 days) still makes any new run under that id
// count as spared, though that run's own senders are suspended because
// the spare is stale. An attacker's run that carries the petition's text
// is filed under the petition's id; its stolen account X that also
// signed a live petition Q (suspended for Q first) is freed by the desk's
// spare of Q, while the run it sent is running and its other senders are
// suspended.
func TestReviewRspare5StaleSpareFreesOtherRun(t *testing.T) {
	// control: the same without the petition's spare: X is left as it is
	if xl, freed := r5staleRun(t, false); freed {
		t.Fatalf("control (petition never spared): X freed: %q", xl)
	} else {
		t.Logf("control (petition never spared): %q", xl)
	}
	r5staleRun(t, true)
}

func r5staleRun(t *testing.T, spareP bool) (string, bool) {
	ctx := context.Background()
	r := newR5Rig(t)
	r.phishRun(t, "signer", 0, 6)
	cs, _ := r.st.Campaigns(ctx, time.Time{}, 10)
	if len(cs) != 1 {
		t.Fatalf("campaigns %v", cs)
	}
	idP := cs[0].ID
	if spareP {
		r.spare(t, idP)
	}
	r.now = r.now.Add(2 * time.Hour) // the petition is over: its spare stale
	const X = "x@isp.example"
	rcpt, raw := r5lure(0)
	r.send(t, X, rcpt, raw) // X's lure copy: no campaign yet
	// X signs a live petition Q (q1..q4 before it): Q established, X
	// suspended for it, as milterd does
	res := campaignOf(t, r.st, "petitionq", r.now, "q1@isp.example", "q2@isp.example", "q3@isp.example", "q4@isp.example", X)
	if !res.New {
		t.Fatalf("Q not established: %+v", res)
	}
	idQ := res.ID
	suspendAll(t, r.st, idQ, r.now, res.Accounts...)
	// the rest of the lure run, from four more stolen accounts
	var run []string
	for i := 1; i <= 6; i++ {
		a := fmt.Sprintf("stolen%d@isp.example", i)
		run = append(run, a)
		rcpt, raw := r5lure(i)
		r.send(t, a, rcpt, raw)
	}
	var ids []string
	cs, _ = r.st.Campaigns(ctx, time.Time{}, 10)
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	sentP, _ := r.st.CampaignHasSender(ctx, idP, X)
	runSusp := r.suspended(t, run...)
	sp, _ := campaignSpared(ctx, r.st, idP)
	spX, _ := r.st.SparedAccount(ctx, idP, X, r.now, 15*time.Minute)
	if !sentP || len(runSusp) == 0 {
		t.Fatalf("the lure run was not filed under %s (campaigns %v; X a sender %v; run suspended %v)", idP, ids, sentP, runSusp)
	}
	// the desk judges Q innocent and spares it
	lines := r.spare(t, idQ)
	var xl string
	for _, l := range lines {
		if strings.HasPrefix(l, X) {
			xl = l
		}
	}
	xs := r.suspended(t, X)
	if !spareP {
		return xl, len(xs) == 0
	}
	t.Logf("campaigns %v; lure run under %s (spare stale: last %s, now %s; X spared for it: %v): run's senders suspended %d/6; spare of %s: X: %q; X suspended after: %v",
		ids, idP, sp.Last.Format(time.TimeOnly), r.now.Format(time.TimeOnly), spX, len(runSusp), idQ, xl, len(xs) == 1)
	if len(xs) == 0 {
		t.Errorf("X sent the running campaign %s (a lure carrying a petition's text; its spare stale for %v, %d of its 6 other senders suspended by it) and was freed by the spare of petition %s: %q; an unspared run's sender should be left as it is",
			idP, r.now.Sub(sp.Last).Round(time.Minute), len(runSusp), idQ, xl)
	}
	return xl, len(xs) == 0
}

// TestReviewRspare5RespareLiftsCrossedThreshold: "one whose undeliverable
// recipients or refused messages reached their limit within the hour
// while it was suspended stays suspended", and "running it again … is
// harmless" (the desk is told to run it again for later signers). The
// check reads the last hour only: the same spare run a few seconds
// later, once the bounces are an hour old, lifts the account, while the
// same 10 bounces (shipped undeliverable_per_hour: 10) on an account not
// suspended keep that one suspended for suspend_for (24h).
func TestReviewRspare5RespareLiftsCrossedThreshold(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 10}, nil)
	eng := &limits.Engine{Store: st, Policy: pol, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}, Now: time.Now}
	bounce := func(acct string, at time.Time) *limits.Suspension {
		var evs []limits.Undeliverable
		for i := range 10 {
			evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(acct, i), Kind: limits.KindRecipient, Time: at, Rcpt: fmt.Sprintf("x%d@gone.example", i), Status: "5.1.1", Source: "rcpt"})
		}
		s, err := eng.Undeliverable(ctx, acct, evs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	res := campaignOf(t, st, "petition", now.Add(-80*time.Minute), "s0", "s1", "s2", "s3", "stolen")
	c, _ := st.CampaignByID(ctx, res.ID)
	if _, err := eng.SuspendCampaign(ctx, "stolen", *c, now.Add(-80*time.Minute)); err != nil {
		t.Fatal(err)
	}
	crossed := now.Add(-time.Hour + 3*time.Second)
	bounce("stolen", crossed) // while suspended for the petition
	control := bounce("control", crossed)
	spare := func() string {
		lines, err := newActions(cfg, nil, st).SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "stolen ") {
				return l
			}
		}
		return ""
	}
	l1 := spare()
	_, s1, _ := st.Usage(ctx, "stolen", time.Now())
	time.Sleep(time.Until(crossed.Add(time.Hour + time.Second)))
	l2 := spare()
	_, s2, _ := st.Usage(ctx, "stolen", time.Now())
	_, sc, _ := st.Usage(ctx, "control", time.Now())
	t.Logf("first spare (bounces %v old): %q, suspended %v\nsecond spare (%v old): %q, suspended %v\ncontrol with the same 10 bounces: suspended %v until %v",
		now.Sub(crossed).Round(time.Second), l1, s1 != nil, time.Since(crossed).Round(time.Second), l2, s2 != nil, sc != nil, sc.Until.Sub(time.Now()).Round(time.Minute))
	if s1 == nil {
		t.Fatal("the first spare lifted it already")
	}
	if s2 == nil && control != nil && sc != nil {
		t.Errorf("the spare run again %v later lifted an account whose 10 undeliverable recipients crossed the threshold while it was suspended for %s; the control account with the same bounces stays suspended another %v",
			time.Since(now).Round(time.Second), res.ID, sc.Until.Sub(time.Now()).Round(time.Minute))
	}
}

// TestReviewRspare5TwoPetitionsOnceEach: "A customer who signed two
// petitions is spared once both are". The desk spares each petition once,
// in the order it reviews them (the one that suspended it first): the
// first spare leaves the signer out (the second petition is not spared
// yet), the second lists it but finds it suspended for the first, so it
// "stays suspended": both petitions spared, the signer is suspended and
// spared for neither of its runs' next copies.
func TestReviewRspare5TwoPetitionsOnceEach(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}}
	const X = "citizen"
	r1 := campaignOf(t, st, "petitionone", now.Add(-10*time.Minute), "a1", "a2", "a3", "a4", X)
	r2 := campaignOf(t, st, "petitiontwo", now.Add(-5*time.Minute), "b1", "b2", "b3", "b4", X)
	if !r1.New || !r2.New {
		t.Fatalf("petitions not established: %+v %+v", r1, r2)
	}
	c1, _ := st.CampaignByID(ctx, r1.ID)
	if _, err := eng.SuspendCampaign(ctx, X, *c1, now.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	act := newActions(cfg, nil, st)
	var out []string
	for _, id := range []string{r1.ID, r2.ID} {
		lines, err := act.SpareCampaign(ctx, []string{id}, QueuedStay, "desk")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if strings.HasPrefix(l, X+" ") {
				out = append(out, id+": "+l)
			}
		}
	}
	// Each spare says the signer also sent the other and to spare them
	// together if innocent too: the desk does.
	if lines, err := act.SpareCampaign(ctx, []string{r1.ID, r2.ID}, QueuedStay, "desk"); err != nil {
		t.Fatal(err)
	} else {
		out = append(out, lines...)
	}
	_, sx, _ := st.Usage(ctx, X, time.Now())
	s1, _ := st.SparedAccount(ctx, r1.ID, X, now, 15*time.Minute)
	s2, _ := st.SparedAccount(ctx, r2.ID, X, now, 15*time.Minute)
	t.Logf("spares of %s then %s, once each:\n%s\n%s suspended: %v; spared for %s: %v, for %s: %v", r1.ID, r2.ID, strings.Join(out, "\n"), X, sx != nil, r1.ID, s1, r2.ID, s2)
	if sx != nil || !s1 {
		t.Errorf("both petitions spared (once each, in the order they suspended it): the signer of both is still suspended (%v) and not spared for %s (%v)", sx != nil, r1.ID, s1)
	}
}

// r5lostReply is the SQLite store whose campaign copy of account lost
// runs and then answers with an error: the reply lost after the store ran
// it (docs: "A reply lost after the store ran the commit").
type r5lostReply struct {
	*limits.SQLStore
	lost string
}

func (l *r5lostReply) CampaignCopy(ctx context.Context, c limits.CampaignCopy, window time.Duration, threshold int) (limits.CampaignResult, error) {
	res, err := l.SQLStore.CampaignCopy(ctx, c, window, threshold)
	if err == nil && c.Account == l.lost {
		return res, fmt.Errorf("reply lost")
	}
	return res, err
}

// TestReviewRspare5LostReplyEndsSpareMidRun: "It is in force while the
// run goes on: each copy of it within campaign.window of the last one the
// spare saw … Nothing has to be written for it to end, so neither a
// store fault nor …". After the spare, four spared signers send a copy
// each (seen: Last moves on); then a store stall: four new signers'
// copies are counted by the store but their replies are lost (docs: "A
// reply lost after the store ran the commit"; their clients give up).
// The run goes on (the next copy is Known: four other accounts within
// the window), but the spare did not see those copies: a spared signer's
// copy 16 minutes after the last copy the spare saw, 11 after the
// campaign's last, finds it stale and suspends the signer, in the middle
// of the run the desk spared. Without the fault the same copy is spared.
func TestReviewRspare5LostReplyEndsSpareMidRunPinned(t *testing.T) {
	for _, fault := range []bool{false, true} {
		ctx := context.Background()
		r := newR5Rig(t)
		lost := &r5lostReply{SQLStore: r.st}
		pol, _ := limits.NewPolicy(limits.Limits{}, nil)
		lim := &limits.Engine{Store: lost, Policy: pol, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
			Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day}
		r.eng = campaign.New(campaign.Options{Store: lost, Limits: lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
			SharedDomains: []string{"isp.example"}, Seed: campaign.FixedSeed(campaign.Seed{}), Log: lim.Log, Now: func() time.Time { return r.now }})
		signers := r.phishRun(t, "signer", 0, 6)
		cs, _ := r.st.Campaigns(ctx, time.Time{}, 10)
		if len(cs) != 1 {
			t.Fatalf("campaigns %v", cs)
		}
		id := cs[0].ID
		r.spare(t, id)
		for i := range 4 {
			rcpt, raw := hamgen.Phish(50+i, false)
			if v := r.send(t, signers[i], rcpt, raw); v.Action != policy.Quarantine {
				t.Fatalf("spared signer's copy: %s", v.Action)
			}
		}
		seen := r.now
		r.now = r.now.Add(time.Minute)
		var errs int
		for i := range 4 {
			a := fmt.Sprintf("new%d@isp.example", i)
			if fault {
				lost.lost = a
			}
			rcpt, raw := hamgen.Phish(60+i, false)
			r.now = r.now.Add(time.Minute)
			if _, err := r.eng.Commit(ctx, &policy.Transaction{User: a, Rcpts: []string{rcpt}, Message: bytes.NewReader(raw), QueueID: fmt.Sprint("QL", i)}); err != nil {
				errs++
			}
		}
		last := r.now
		r.now = r.now.Add(10 * time.Minute)
		rcpt, raw := hamgen.Phish(70, false)
		v := r.send(t, signers[4], rcpt, raw)
		sp, _ := campaignSpared(ctx, r.st, id)
		susp := r.suspended(t, signers[4])
		t.Logf("fault %v: 4 new signers' copies, %d replies lost; spared signer's copy %v after the campaign's last, %v after the last the spare saw: %s; spare last %s; suspended: %v",
			fault, errs, r.now.Sub(last), r.now.Sub(seen), v.Action, sp.Last.Format(time.TimeOnly), len(susp) == 1)
		if v.Action != policy.Quarantine {
			t.Fatalf("fault %v: the spared signer's copy is not Known (%s): the run did not go on", fault, v.Action)
		}
		// Pinned (docs/suspension.md, "A spare is of one run"): copies
		// whose engine never ran (the client gave up) do not move the
		// spare on; over a window of them, the spare is stale and the
		// spared signer suspended, never the other way. The desk's spare
		// run again covers the run of now.
		if (len(susp) == 1) != fault {
			t.Errorf("fault %v: the spared signer %s suspended: %v (pinned: only with the lost replies)", fault, signers[4], len(susp) == 1)
		}
	}
}
