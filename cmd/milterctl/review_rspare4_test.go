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
	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// Review rspare4 (issue 28, "campaigns spare", design B, 715d2f6).

// TestReviewRspare4EngineLiftFreesOtherCampaignSender: claims 2 and 4,
// "never frees an account that sent another unspared campaign (including
// races)". The desk's path re-checks the account's other campaigns after
// its lift and puts the suspension back (rspare3's fix); milterd's own
// lift (campaign.Engine.suspend: suspended, then found spared, lifts) does
// not. X sent 1 copy of a phishing text Q (4 senders so far: not a
// campaign yet), then a copy of the petition P. milterd counts X's P copy
// and reads "not spared"; the desk's spare runs to its end (X: only P, so
// listed; "not suspended"); milterd suspends X for P; Q's fifth sender's
// copy establishes Q on another host: X is suspended already (for P), so
// Q records nothing and clears X's pending; milterd reads the spare again
// and lifts X. X, a sender of the unspared phishing campaign Q, is free
// and nothing suspends it for Q.
func TestReviewRspare4EngineLiftFreesOtherCampaignSender(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	lim := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
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
		// the desk's spare, run to its end right after milterd's first read
		lines, serr = newActions(cfg, nil, st).SpareCampaign(ctx, []string{idP}, QueuedStay, "desk")
		// Q's fifth sender, on mx2, right after milterd suspended X and
		// while it reads the spare again
		h.afterSpareRead = func(string) {
			res := campaignOf(t, st, "phishq", now, "q4")
			if !res.New {
				t.Fatalf("Q not established: %+v", res)
			}
			idQ = res.ID
			q, _ := st.CampaignByID(ctx, res.ID)
			var done []limits.PendingSuspension
			for _, a := range res.Accounts {
				if _, err := other.SuspendCampaign(ctx, a, *q, now); err != nil {
					t.Fatal(err)
				}
				done = append(done, limits.PendingSuspension{ID: res.ID, Account: a})
			}
			if err := st.CampaignSuspended(ctx, done); err != nil {
				t.Fatal(err)
			}
		}
	}
	v := send(5, X)
	t.Logf("spare of %s: err %v\n%s", idP, serr, strings.Join(lines, "\n"))
	_, sx, _ := st.Usage(ctx, X, now)
	_, sq4, _ := st.Usage(ctx, "q4", now)
	sent, _ := st.AccountCampaigns(ctx, X, 10)
	var ids []string
	for _, c := range sent {
		sp, _ := st.SparedAccount(ctx, c.ID, X, time.Now(), 15*time.Minute)
		ids = append(ids, fmt.Sprintf("%s(X spared %v)", c.ID, sp))
	}
	t.Logf("X's P copy: %s; X suspended: %v; X sent %v; Q %s's fifth sender q4 suspended: %v", v.Action, sx != nil, ids, idQ, sq4 != nil)
	if idQ == "" {
		t.Fatal("the race did not run")
	}
	if sx == nil {
		t.Errorf("milterd's own lift of spared X (campaign %s) freed a sender of the unspared phishing campaign %s established meanwhile; nothing suspends it for %s any more (the desk's path puts such a suspension back)", idP, idQ, idQ)
	}
}

// failSuspend is hookStore whose Suspend fails n times.
type failSuspend struct {
	*hookStore
	n int
}

func (f *failSuspend) Suspend(ctx context.Context, s limits.Suspension, now time.Time) (bool, error) {
	if f.n > 0 {
		f.n--
		return false, fmt.Errorf("injected: connection reset by peer")
	}
	return f.hookStore.Suspend(ctx, s, now)
}

// TestReviewRspare4PutBackFailedRunAgain: claims 2 and 4, "a store
// failing mid-way", and the command's own remedy. rspare3's race (X
// sends the phishing campaign B while the command lifts it for the
// petition A) now puts X's suspension back; when that write fails the
// command says "sparing X failed: run it again". Run again, it finds
// B among X's campaigns at its first check and prints "X left as it is"
// without touching it: X, lifted and a sender of the unspared B, stays
// free, and the second run reports success.
func TestReviewRspare4PutBackFailedRunAgain(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx2"}}
	campaignOf(t, st, "phish", now.Add(-10*time.Minute), "p1", "p2", "p3", "X")
	resA := campaignOf(t, st, "petition", now.Add(-5*time.Minute), "s1", "s2", "s3", "s4", "X")
	suspendAll(t, st, resA.ID, now.Add(-5*time.Minute), resA.Accounts...)
	h := &hookStore{SQLStore: st}
	f := &failSuspend{hookStore: h, n: 1}
	var idB string
	// (Design B': X's campaigns are read before the spare and before its
	// lift, from the index and from each campaign kept: B is established
	// between the last of those reads and the lift, finding X suspended.)
	h.beforeLift = func(acct string) {
		if acct != "X" || idB != "" {
			return
		}
		idB = establishedElsewhere(t, st, eng, "phish", "p4")
	}
	lines, err1 := newActions(cfg, nil, f).SpareCampaign(ctx, []string{resA.ID}, QueuedStay, "desk")
	t.Logf("first run: err %v\n%s", err1, strings.Join(lines, "\n"))
	lines, err2 := newActions(cfg, nil, st).SpareCampaign(ctx, []string{resA.ID}, QueuedStay, "desk")
	t.Logf("run again: err %v\n%s", err2, strings.Join(lines, "\n"))
	_, sx, _ := st.Usage(ctx, "X", time.Now())
	if idB == "" || err1 == nil {
		t.Fatalf("the race or the fault did not happen (B %q, first run's error %v)", idB, err1)
	}
	if sx == nil {
		t.Errorf("after \"run it again\" (exit %v): X, a sender of the unspared campaign %s, is free; the second run said it left it as it is", err2, idB)
	}
}

// TestReviewRspare4VoidAheadClock: claim 2, "voids escalation only for
// suspensions up to the spare" (docs: "one after it (the spare ended)
// counts"). The void compares the spare's time, on the desk's host
// clock (or later: max(now, the suspension's Since)), with each
// suspension's time on the milterd host's clock. The desk's host 2
// minutes ahead: it spares the petition, finds a stolen account among the
// signers and unspares at once; the stolen account's next copy, 1 minute
// later (real time), suspends it: that suspension, made after the
// unspare, is voided. Shipped escalate (3 within 30d): the stolen account
// is suspended for the campaign 3 times after the unspare and not
// escalated.
func TestReviewRspare4VoidAheadClock(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	const skew = 2 * time.Minute                              // the desk's host ahead of milterd's
	mnow := func() time.Time { return time.Now().Add(-skew) } // milterd's clock
	res := campaignOf(t, st, "petition", mnow().Add(-time.Hour), "s0", "s1", "s2", "s3", "stolen")
	if !res.New {
		t.Fatalf("no campaign: %+v", res)
	}
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Escalate: limits.Escalation{After: 3, Within: 30 * limits.Day}, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}}
	c, _ := st.CampaignByID(ctx, res.ID)
	if _, err := eng.SuspendCampaign(ctx, "stolen", *c, mnow().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	act := newActions(cfg, nil, st)
	if _, err := act.SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk"); err != nil {
		t.Fatal(err)
	}
	if _, err := act.UnspareCampaign(ctx, res.ID, "desk"); err != nil {
		t.Fatal(err)
	}
	unspared := mnow()
	escalated := 0
	for k := range 3 {
		at := unspared.Add(time.Minute + time.Duration(k)*(limits.Day+time.Hour))
		if _, err := eng.SuspendCampaign(ctx, "stolen", *c, at); err != nil {
			t.Fatal(err)
		}
		_, cur, _ := st.Usage(ctx, "stolen", at)
		t.Logf("suspension %d after the unspare, at +%v (milterd's clock): escalated %v", k+1, at.Sub(unspared).Round(time.Minute), cur != nil && cur.Escalated)
		if cur != nil && cur.Escalated && escalated == 0 {
			escalated = k + 1
		}
	}
	if escalated != 3 {
		t.Errorf("3 suspensions for campaign %s after its unspare (escalate: 3 within 30d), the desk's clock %v ahead: escalated at %d (0: never), want the 3rd: the first, made a minute after the unspare, was voided", res.ID, skew, escalated)
	}
}

// TestReviewRspare4SpareSwallowsCrossedThreshold: claim 2, "acknowledges
// nothing else" (its output: "its other evidence (undeliverable
// recipients, networks, spam) still counts"). A stolen signer, suspended
// for the petition, collects its 10th undeliverable recipient within the
// hour (shipped undeliverable_per_hour: 10) while suspended: nothing is
// recorded (an active suspension stays as it is). The spare lifts the
// petition's suspension and nothing takes the place of the one the
// crossed threshold would have made: the account is free with 10
// undeliverable recipients in the last hour, and stays so until another
// bounce arrives. The same 10 bounces on an account not suspended
// suspend it.
func TestReviewRspare4SpareSwallowsCrossedThreshold(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 10}, nil)
	eng := &limits.Engine{Store: st, Policy: pol, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}, Now: time.Now}
	bounce := func(acct string, n, from int, at time.Time) *limits.Suspension {
		var evs []limits.Undeliverable
		for i := range n {
			evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(acct, from+i), Kind: limits.KindRecipient, Time: at, Rcpt: fmt.Sprintf("x%d@gone.example", from+i), Status: "5.1.1", Source: "rcpt"})
		}
		s, err := eng.Undeliverable(ctx, acct, evs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	res := campaignOf(t, st, "petition", now.Add(-20*time.Minute), "s0", "s1", "s2", "s3", "stolen")
	c, _ := st.CampaignByID(ctx, res.ID)
	if _, err := eng.SuspendCampaign(ctx, "stolen", *c, now.Add(-20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	bounce("stolen", 10, 0, now.Add(-10*time.Minute)) // while suspended for the petition
	control := bounce("control", 10, 0, now.Add(-10*time.Minute))
	lines, err := newActions(cfg, nil, st).SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "stolen ") {
			t.Logf("spare: %s", l)
		}
	}
	u, s, _ := st.Usage(ctx, "stolen", time.Now())
	nb, _ := st.Undeliverables(ctx, "stolen", time.Now().Add(-time.Hour))
	t.Logf("after the spare: stolen suspended %v with %d undeliverable recipients in the last hour (threshold 10); the control account with the same 10: suspended %v", s != nil, len(nb), control != nil)
	_ = u
	tx := &policy.Transaction{User: "stolen", From: "stolen@isp.example", Rcpts: []string{"friend@elsewhere.example"}, QueueID: "QS1"}
	v, err := eng.CheckMail(ctx, tx)
	if err == nil && v.Action == policy.Accept {
		v, err = eng.Commit(ctx, tx)
	}
	_, s2, _ := st.Usage(ctx, "stolen", time.Now())
	t.Logf("its next message: %s %v (%s); suspended after it: %v", v.Action, err, v.Reason, s2 != nil)
	if s == nil && control != nil {
		t.Errorf("the spare of %s freed an account whose undeliverable recipients crossed the threshold (%d within the hour, 10) while it was suspended for the campaign: nothing suspends it for them", res.ID, len(nb))
	}
}
