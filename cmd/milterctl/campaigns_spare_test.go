package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"outguard/limits"
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
	ids := map[string]string{}
	for _, text := range []string{"petition", "phish"} {
		var keys []string
		for b := range 20 {
			keys = append(keys, fmt.Sprintf("t1%s%02d", text, b))
		}
		for i := range 5 {
			acct := fmt.Sprint(text, i)
			if i == 4 {
				acct = "both"
			}
			res, err := st.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: acct, Subject: text, Time: now, Bands: 5}, 15*time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			ids[text] = max(ids[text], res.ID)
		}
	}
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
	petition, _ := st.CampaignByID(ctx, ids["petition"])
	for _, acct := range []string{"petition0", "petition1", "both"} {
		if _, err := eng.SuspendCampaign(ctx, acct, *petition, now); err != nil {
			t.Fatal(err)
		}
	}
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
	if sp, err := st2.CampaignSpared(ctx, ids["phish"]); err != nil || sp != nil {
		t.Errorf("the other campaign spared: %+v %v", sp, err)
	}
	for acct, want := range map[string]bool{"petition0": true, "petition2": true, "petition3": true, "both": false} {
		if ok, err := st2.SparedAccount(ctx, ids["petition"], acct); err != nil || ok != want {
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
