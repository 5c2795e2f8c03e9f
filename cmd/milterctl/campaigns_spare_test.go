package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/policy"
	"outguard/setup"
)

// TestCampaignsSpare: campaigns spare lifts the suspensions the spared
// campaign made and records a spare of its accounts the milters read; it
// leaves alone a sender of another campaign not spared ("both": a stolen
// account that signed the petition), and one suspended for something
// else. Each lifted
// account's trail has the spare, the campaign is shown spared, a second
// spare changes nothing, an unknown campaign is refused with nothing
// recorded, and unspare ends it once.
func TestCampaignsSpare(t *testing.T) {
	t.Parallel()
	cfg, st := campaignsConfig(t)
	ctx := context.Background()
	now := time.Now()
	ids := twoCampaigns(t, st, now)
	suspendAll(t, st, ids["petition"], now, "petition0", "petition1", "both")
	if _, err := st.Suspend(ctx, limits.Suspension{Key: "petition2", Since: now, Reason: "manual: fraud report", By: "desk"}, now); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if out, code := ctl(t, cfg, "campaigns", "spare", "t1nosuch"); code == 0 || !strings.Contains(out, "no such campaign") {
		t.Errorf("spare of an unknown campaign (%d):\n%s", code, out)
	}
	out, code := ctl(t, cfg, "campaigns", "spare", ids["petition"])
	t.Logf("%s", out)
	if code != 0 {
		t.Fatalf("spare (%d):\n%s", code, out)
	}
	if n := strings.Count(out, "both left as it is"); n != 1 {
		t.Errorf("the sender of another campaign is named %d times, want once", n)
	}
	for _, want := range []string{
		ids["petition"] + " spared for 4 of its 5 accounts: its copies are still held",
		"petition0 unsuspended (spared)", "petition1 unsuspended (spared)",
		"both left as it is: it also sent campaign(s) " + ids["phish"],
		"petition2 stays suspended: manual: fraud report",
		"petition3 not suspended",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("spare output lacks %q", want)
		}
	}
	st2, err := limits.OpenSQLite(strings.TrimSuffix(cfg, "milterd.yaml") + "state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	for acct, want := range map[string]bool{"petition0": false, "petition1": false, "both": true, "petition2": true} {
		if _, s, _ := st2.Usage(ctx, acct, time.Now()); (s != nil) != want {
			t.Errorf("%s suspended after the spare: %v, want %v", acct, s != nil, want)
		}
	}
	trail, _ := st2.AuditTrail(ctx, "petition0", time.Time{})
	if !strings.Contains(fmt.Sprint(trail), limits.AuditSpared) {
		t.Errorf("petition0's trail has no spare: %+v", trail)
	}
	if trail, _ = st2.AuditTrail(ctx, "both", time.Time{}); strings.Contains(fmt.Sprint(trail), limits.AuditSpared) {
		t.Errorf("the sender of another campaign got a spare in its trail: %+v", trail)
	}
	if sp, err := campaignSpared(ctx, st2, ids["phish"]); err != nil || sp != nil {
		t.Errorf("the other campaign spared: %+v %v", sp, err)
	}
	for acct, want := range map[string]bool{"petition0": true, "petition2": true, "petition3": true, "both": false} {
		if ok, err := st2.SparedAccount(ctx, ids["petition"], acct, now, 15*time.Minute); err != nil || ok != want {
			t.Errorf("%s spared: %v %v, want %v", acct, ok, err, want)
		}
	}
	if out, code = ctl(t, cfg, "campaigns", "show", ids["petition"]); code != 0 || !strings.Contains(out, "Spared:") {
		t.Errorf("show of the spared campaign (%d):\n%s", code, out)
	}
	if out, code = ctl(t, cfg, "campaigns", "spare", ids["petition"]); code != 0 || !strings.Contains(out, "petition0 not suspended") {
		t.Errorf("second spare (%d):\n%s", code, out)
	}
	if out, code = ctl(t, cfg, "campaigns", "unspare", ids["petition"]); code != 0 || !strings.Contains(out, "no longer spared") {
		t.Errorf("unspare (%d):\n%s", code, out)
	}
	if out, code = ctl(t, cfg, "campaigns", "unspare", ids["petition"]); code == 0 || !strings.Contains(out, "is not spared") {
		t.Errorf("second unspare (%d):\n%s", code, out)
	}
}

// campaignOf sends one copy of text (20 keys, 5 bands) from each account
// at when, as milterd counts them; it returns the last result.
func campaignOf(t *testing.T, cs limits.CampaignStore, text string, when time.Time, accts ...string) limits.CampaignResult {
	t.Helper()
	var keys []string
	for b := range 20 {
		keys = append(keys, fmt.Sprintf("t1%s%02d", text, b))
	}
	var res limits.CampaignResult
	for _, a := range accts {
		var err error
		if res, err = cs.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: keys, Account: a, Subject: text, Time: when, Bands: 5, Suspend: true}, 15*time.Minute, 5); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// twoCampaigns are a petition (petition0 to petition3 and both) and a
// phishing run (phish0 to phish3 and both) at when: their ids by text.
func twoCampaigns(t *testing.T, cs limits.CampaignStore, when time.Time) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, text := range []string{"petition", "phish"} {
		ids[text] = campaignOf(t, cs, text, when, text+"0", text+"1", text+"2", text+"3", "both").ID
		if ids[text] == "" {
			t.Fatalf("%s: no campaign", text)
		}
	}
	return ids
}

// suspendAll suspends accts for campaign id at at, as milterd does.
func suspendAll(t *testing.T, st limits.Store, id string, at time.Time, accts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := st.(limits.CampaignStore).CampaignByID(ctx, id)
	if err != nil || c == nil {
		t.Fatalf("campaign %s: %+v %v", id, c, err)
	}
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
	for _, a := range accts {
		if _, err := eng.SuspendCampaign(ctx, a, *c, at); err != nil {
			t.Fatal(err)
		}
	}
}

// actionsConfig is campaignsConfig loaded, for the actions the commands
// run; the store is closed with the test.
func actionsConfig(t *testing.T) (*config.Config, *limits.SQLStore) {
	t.Helper()
	path, st := campaignsConfig(t)
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, st
}

// campaignSpared is campaign id's spare as the desk reads it (campaigns
// show), nil when it is not spared.
func campaignSpared(ctx context.Context, cs limits.CampaignStore, id string) (*limits.Spare, error) {
	c, err := cs.CampaignByID(ctx, id)
	if err != nil || c == nil {
		return nil, err
	}
	return c.Spared, nil
}

// TestSpareLeavesOtherCampaignsSay: a spared signer that later sent a
// phishing campaign, which suspended it for its time (now over), is
// left as it is by the petition's spare run again: not suspended once
// more for a campaign that had its say. (One that campaign never
// suspended, its lift having raced with it, is: review rspare4's
// TestReviewRspare4PutBackFailedRunAgain.)
func TestSpareLeavesOtherCampaignsSay(t *testing.T) {
	t.Parallel()
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	p := campaignOf(t, st, "petition", now.Add(-30*time.Minute), "s0", "s1", "s2", "s3", "X").ID
	suspendAll(t, st, p, now.Add(-30*time.Minute), "X")
	act := newActions(cfg, nil, st)
	if lines, err := act.SpareCampaign(ctx, []string{p}, QueuedStay, "desk"); err != nil || !strings.Contains(strings.Join(lines, "\n"), "X unsuspended (spared)") {
		t.Fatalf("first spare: %v\n%s", err, strings.Join(lines, "\n"))
	}
	q := campaignOf(t, st, "phish", now.Add(-20*time.Minute), "q1", "q2", "q3", "q4", "X").ID
	c, _ := st.CampaignByID(ctx, q)
	short := &limits.Engine{Store: st, SuspendFor: time.Minute, Log: slog.New(slog.DiscardHandler)}
	if _, err := short.SuspendCampaign(ctx, "X", *c, now.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	lines, err := act.SpareCampaign(ctx, []string{p}, QueuedStay, "desk")
	out := strings.Join(lines, "\n")
	if err != nil || !strings.Contains(out, "X left as it is: it also sent campaign(s) "+q) || strings.Contains(out, "suspended for it") {
		t.Errorf("second spare: %v\n%s", err, out)
	}
	if _, s, _ := st.Usage(ctx, "X", time.Now()); s.Active(time.Now()) {
		t.Errorf("X suspended again for %s, whose suspension of it is over: %s", q, s.Reason)
	}
}

// TestSpareKeepsWhatCrossedWhileSuspended: an account whose stolen
// credentials a botnet kept trying while it was suspended for the
// petition (logins from 13 networks within an hour, two hours ago, as
// milterd counted them: the shipped networks_per_hour is 12) is left out
// of the spare: it stays suspended, is not listed (its next copy would
// suspend it), and its suspension for the petition still counts toward
// escalation (no spared event in its trail); so is one whose suspension
// has ended meanwhile ("not spared"). A signer whose logins came from 12
// networks is lifted, its suspension voided.
func TestSpareKeepsWhatCrossedWhileSuspended(t *testing.T) {
	cfg, st := actionsConfig(t)
	ctx := context.Background()
	now := time.Now()
	clock := now
	eng, err := setup.LimitsEngine(cfg, st, slog.New(slog.DiscardHandler)) // limits: {}, the defaults
	if err != nil {
		t.Fatal(err)
	}
	eng.Now = func() time.Time { return clock }
	res := campaignOf(t, st, "petition", now.Add(-3*time.Hour), "s0", "bot", "gone", "signer", "s4")
	c, err := st.CampaignByID(ctx, res.ID)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	for acct, networks := range map[string]int{"bot": 13, "gone": 13, "signer": 12} {
		if _, err := eng.SuspendCampaign(ctx, acct, *c, now.Add(-3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		for i := range networks {
			clock = now.Add(-2*time.Hour + time.Duration(i)*time.Minute)
			tx := &policy.Transaction{User: acct, Conn: policy.Conn{Addr: netip.MustParseAddr(fmt.Sprintf("203.0.%d.9", i))}}
			if v, err := eng.CheckMail(ctx, tx); err != nil || v.Action == policy.Accept {
				t.Fatalf("%s's login while suspended: %v %v", acct, v, err)
			}
		}
	}
	// gone's suspension ended an hour ago (a shorter suspend_for).
	_, s, _ := st.Usage(ctx, "gone", now)
	s.Until = now.Add(-time.Hour)
	if _, err := st.Unsuspend(ctx, "gone", now.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Suspend(ctx, *s, now.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	lines, err := newActions(cfg, nil, st).SpareCampaign(ctx, []string{res.ID}, QueuedStay, "desk")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(lines, "\n")
	t.Log(out)
	for _, want := range []string{
		res.ID + " spared for 3 of its 5 accounts",
		"bot stays suspended, not spared: 13 client networks logged in from within an hour (limit 12) while suspended; its suspensions for the campaign still count toward escalation",
		"gone not spared: 13 client networks logged in from within an hour (limit 12) while suspended; its suspensions",
		"signer unsuspended (spared)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("spare output lacks %q", want)
		}
	}
	for acct, spared := range map[string]bool{"bot": false, "gone": false, "signer": true} {
		_, s, err := st.Usage(ctx, acct, time.Now())
		if err != nil || acct != "gone" && (s == nil) != spared {
			t.Errorf("%s suspended after the spare: %v %v, want %v", acct, s != nil, err, !spared)
		}
		if listed, err := st.SparedAccount(ctx, res.ID, acct, time.Time{}, 0); err != nil || listed != spared {
			t.Errorf("%s listed in the spare: %v %v, want %v", acct, listed, err, spared)
		}
		trail, err := st.AuditTrail(ctx, acct, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		voided := false
		for _, ev := range trail {
			voided = voided || ev.Event == limits.AuditSpared && ev.Campaign == res.ID
		}
		if voided != spared {
			t.Errorf("%s's suspension for the petition voided: %v, want %v (trail %+v)", acct, voided, spared, trail)
		}
	}
}
