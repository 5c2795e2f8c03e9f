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

// TestCampaignsClear: a campaign six accounts sent, four of them
// suspended for it, one for something else, one for it but made
// permanent: campaigns clear unsuspends the campaign's own suspensions
// (audited), leaves the others, records the clearance (show says it,
// CampaignCleared holds until --for has passed); a second clear is no
// error; an unknown campaign and bad flags are refused, nothing changed.
func TestCampaignsClear(t *testing.T) {
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

	for _, bad := range [][]string{{"campaigns", "clear"}, {"campaigns", "clear", id, "--for", "0s"}, {"campaigns", "clear", id, "--for", "soon"},
		{"campaigns", "clear", id, "--release-queued", "--delete-queued"}, {"campaigns", "clear", id, id}} {
		if out, code := ctl(t, cfg, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", bad, code, out)
		}
	}
	if out, code := ctl(t, cfg, "campaigns", "clear", "t1nosuch"); code != 1 || !strings.Contains(out, "no campaign t1nosuch") {
		t.Errorf("an unknown campaign: exit %d\n%s", code, out)
	}
	out, code := ctl(t, cfg, "campaigns", "clear", id, "--for", "2d")
	if code != 0 {
		t.Fatalf("clear: exit %d\n%s", code, out)
	}
	for _, want := range []string{id + " cleared until ", "s0 unsuspended", "s3 unsuspended", "s4 left suspended: made permanent (escalated)"} {
		if !strings.Contains(out, want) {
			t.Errorf("clear's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s5") {
		t.Errorf("clear touched s5, suspended for something else:\n%s", out)
	}
	st2, err := limits.OpenSQLite(strings.TrimSuffix(cfg, "milterd.yaml") + "state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	for acct, want := range map[string]bool{"s0": false, "s1": false, "s2": false, "s3": false, "s4": true, "s5": true} {
		if _, s, _ := st2.Usage(ctx, acct, time.Now()); s.Active(time.Now()) != want {
			t.Errorf("%s suspended %v, want %v: %+v", acct, s.Active(time.Now()), want, s)
		}
	}
	if c, _ := st2.CampaignCleared(ctx, id, time.Now().Add(47*time.Hour)); !c {
		t.Errorf("not cleared within --for 2d")
	}
	if c, _ := st2.CampaignCleared(ctx, id, time.Now().Add(49*time.Hour)); c {
		t.Errorf("still cleared after --for 2d")
	}
	if out, _ := ctl(t, cfg, "accounts", "audit", "s0"); !strings.Contains(out, "unsuspend") {
		t.Errorf("the unsuspension is not in s0's audit:\n%s", out)
	}
	if out, code := ctl(t, cfg, "campaigns", "show", id); code != 0 || !strings.Contains(out, "Cleared:") {
		t.Errorf("show (%d) does not say it is cleared:\n%s", code, out)
	}
	if out, code := ctl(t, cfg, "campaigns", "clear", id); code != 0 || strings.Contains(out, "unsuspended") {
		t.Errorf("a second clear (%d):\n%s", code, out)
	}
}
