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

// TestCampaignsSpare: a campaign six accounts sent, four of them
// suspended for it (one of the four, s2, also sent another campaign), one
// for something else, one for it but made permanent: campaigns spare
// unsuspends the campaign's own suspensions of accounts that sent no
// other campaign (audited), leaves the others, records the spare
// (show says it, CampaignSpared holds until --for has passed); a second
// spare is no error; an unknown campaign, a --for over 7d and bad flags
// are refused, nothing changed.
func TestCampaignsSpare(t *testing.T) {
	t.Parallel()
	cfg, st := campaignsConfig(t)
	ctx := context.Background()
	now := time.Now()
	var keys []string
	for b := range 20 {
		keys = append(keys, fmt.Sprintf("t1petition%02d", b))
	}
	var id string
	for i := range 6 {
		res, err := st.CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("s", i), Subject: "Save the ward", Time: now, Bands: 5}, 15*time.Minute, 5)
		if err != nil {
			t.Fatal(err)
		}
		id = max(id, res.ID)
	}
	// s2 and four others: another campaign.
	var other []string
	for b := range 20 {
		other = append(other, fmt.Sprintf("t1lure%02d", b))
	}
	for _, a := range []string{"o0", "o1", "s2", "o2", "o3"} {
		if _, err := st.CampaignCopy(ctx, limits.CampaignCopy{Keys: other, Account: a, Subject: "Verify", Time: now, Bands: 5}, 15*time.Minute, 5); err != nil {
			t.Fatal(err)
		}
	}
	if mine, err := st.AccountCampaigns(ctx, "s2", 10); err != nil || len(mine) != 2 {
		t.Fatalf("s2's campaigns: %+v %v, want 2", mine, err)
	}
	camp, err := st.CampaignByID(ctx, id)
	if err != nil || camp == nil {
		t.Fatal(err)
	}
	eng := &limits.Engine{Store: st, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler)}
	for i := range 4 {
		if _, err := eng.SuspendCampaign(ctx, fmt.Sprint("s", i), *camp, now); err != nil {
			t.Fatal(err)
		}
	}
	// s5: suspended by hand, for something else.
	if _, err := st.Suspend(ctx, limits.Suspension{Key: "s5", Since: now, Reason: "abuse report", By: "desk"}, now); err != nil {
		t.Fatal(err)
	}
	// s4: its campaign suspension made permanent.
	if _, err := st.Suspend(ctx, limits.Suspension{Key: "s4", Since: now, Reason: "sent campaign " + id, By: "milterd", Signal: limits.SignalCampaign,
		Sightings: []limits.Sighting{{Signal: limits.SignalCampaign, Value: id}}, Escalated: true}, now); err != nil {
		t.Fatal(err)
	}
	st.Close()

	for _, bad := range [][]string{{"campaigns", "spare"}, {"campaigns", "spare", id, "--for", "0s"}, {"campaigns", "spare", id, "--for", "soon"},
		{"campaigns", "spare", id, "--for", "7d1s"}, {"campaigns", "spare", id, "--release-queued", "--delete-queued"}, {"campaigns", "spare", id, id}} {
		if out, code := ctl(t, cfg, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", bad, code, out)
		}
	}
	if out, code := ctl(t, cfg, "campaigns", "spare", "t1nosuch"); code != 1 || !strings.Contains(out, "no campaign t1nosuch") {
		t.Errorf("an unknown campaign: exit %d\n%s", code, out)
	}
	out, code := ctl(t, cfg, "campaigns", "spare", id, "--for", "2d")
	if code != 0 {
		t.Fatalf("spare: exit %d\n%s", code, out)
	}
	for _, want := range []string{id + " spared until ", "s0 unsuspended", "s1 unsuspended", "s3 unsuspended", "s4 left suspended: made permanent (escalated)",
		"s2 left suspended: it also sent campaign(s) t1lure", "held copies: 1, still held"} {
		if !strings.Contains(out, want) {
			t.Errorf("spare's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s5") {
		t.Errorf("spare touched s5, suspended for something else:\n%s", out)
	}
	st2, err := limits.OpenSQLite(strings.TrimSuffix(cfg, "milterd.yaml") + "state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	for acct, want := range map[string]bool{"s0": false, "s1": false, "s2": true, "s3": false, "s4": true, "s5": true} {
		if _, s, _ := st2.Usage(ctx, acct, time.Now()); s.Active(time.Now()) != want {
			t.Errorf("%s suspended %v, want %v: %+v", acct, s.Active(time.Now()), want, s)
		}
	}
	if c, _ := st2.CampaignSpared(ctx, id, "s0", time.Now().Add(47*time.Hour)); !c {
		t.Errorf("not spared within --for 2d")
	}
	if c, _ := st2.CampaignSpared(ctx, id, "s0", time.Now().Add(49*time.Hour)); c {
		t.Errorf("still spared after --for 2d")
	}
	if out, _ := ctl(t, cfg, "accounts", "audit", "s0"); !strings.Contains(out, "unsuspend") {
		t.Errorf("the unsuspension is not in s0's audit:\n%s", out)
	}
	if out, code := ctl(t, cfg, "campaigns", "show", id); code != 0 || !strings.Contains(out, "Spared:") {
		t.Errorf("show (%d) does not say it is spared:\n%s", code, out)
	}
	// Again, for the longest spare (the record's retention).
	if out, code := ctl(t, cfg, "campaigns", "spare", id, "--for", "7d"); code != 0 || strings.Contains(out, "unsuspended") {
		t.Errorf("a second spare (%d):\n%s", code, out)
	}
	if c, _ := st2.CampaignSpared(ctx, id, "s0", time.Now().Add(7*24*time.Hour-time.Minute)); !c {
		t.Errorf("not spared within --for 7d")
	}
}
