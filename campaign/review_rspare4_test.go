package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// Review rspare4 (issue 28, "campaigns spare", design B, 715d2f6).

// TestReviewRspare4NewRunRaceOldSpare: claims 3 and 4, "the spare ends
// with its run" against "races with milterd copies on other hosts". The
// copy of an account on the old list right after the copy that
// establishes the new run (another host) finds the old spare stale, as
// every copy of the new run does: all 6 senders are suspended. (Against
// design B, whose establishing copy ended the spare in a second round
// trip, that copy was never suspended.)
func TestReviewRspare4NewRunRaceOldSpare(t *testing.T) {
	ctx := context.Background()
	r := newSpareRig(t)
	old := rspare4Victims
	r.spare(t, old...)
	// (Design B': nothing ends the spare, so no write to race with: the
	// copy right after the establishing one finds the old spare stale.)
	r.now = r.now.Add(2 * time.Hour) // a new run
	for i := range 4 {
		r.copy(t, 50+i, old[i])
	}
	_, cc := r.copy(t, 55, "new5@isp.example")
	if !cc.Result.New {
		t.Fatalf("the new run was not established by new5's copy (%+v)", cc.Result)
	}
	r.copy(t, 60, old[4]) // another host, right after
	var free []string
	for _, a := range append(old, "new5@isp.example") {
		if suspensionOf(t, r.rig, a) == nil {
			free = append(free, a)
		}
	}
	sp, _ := campaignSpared(ctx, r.store, r.id)
	t.Logf("new run of 6 senders: not suspended %v; old spare in force: %v", free, sp.InForce(r.now, 15*time.Minute))
	if len(free) > 0 {
		t.Errorf("a copy of the new run counted on another host while the establishing copy ended the old spare: %v never suspended for the new run (want all 6, as without the race)", free)
	}
}

// oldHostCopy is tx's copy counted and acted on by a milterd of the
// version before the spare (main's campaign.Engine.Commit): the copy
// counted with the message, then every sender of a copy that establishes
// a campaign suspended (its own sender for a later copy), the spare
// neither read nor ended.
func (r *spareRig) oldHostCopy(t *testing.T, i int, acct string) limits.CampaignResult {
	t.Helper()
	ctx := context.Background()
	rcpt, raw := hamgen.Phish(i, false)
	r.now = r.now.Add(time.Minute)
	tx := transaction(t, acct, []string{rcpt}, raw)
	if v, err := r.lim.CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
		t.Fatalf("old host check: %v %v", v, err)
	}
	if _, err := r.lim.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	cc, err, ok := limits.CampaignOutcome(tx)
	if !ok || err != nil || cc == nil {
		t.Fatalf("old host: copy not counted: %v %v", ok, err)
	}
	res := cc.Result
	if res.ID == "" {
		return res
	}
	c := limits.Campaign{ID: res.ID, First: r.now, Last: r.now}
	suspend := []string{acct}
	if res.New {
		suspend = res.Accounts
	}
	var done []limits.PendingSuspension
	for _, a := range suspend {
		if _, err := r.lim.SuspendCampaign(ctx, a, c, r.now); err != nil {
			t.Fatal(err)
		}
		done = append(done, limits.PendingSuspension{ID: res.ID, Account: a})
	}
	if err := r.store.CampaignSuspended(ctx, done); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestReviewRspare4RollingUpgradeSpareOutlivesRun: claim 3 and docs
// ("a milterd that does not know them ignores them, so a fleet upgrades
// host by host"). During a rolling upgrade the new run of a spared text
// is established on a host not upgraded yet: it suspends the run's
// senders so far but cannot end the spare; every later copy on an
// upgraded host is Known, reads the old spare, and suspends no account
// on the old list: the spare outlives its run for as long as the run
// goes on.
func TestReviewRspare4RollingUpgradeSpareOutlivesRun(t *testing.T) {
	ctx := context.Background()
	r := newSpareRig(t)
	old := rspare4Victims
	r.spare(t, old...)
	r.now = r.now.Add(2 * time.Hour) // a new run
	for i := range 4 {
		r.copy(t, 70+i, fmt.Sprintf("new%d@isp.example", i)) // upgraded hosts: not a campaign yet
	}
	if res := r.oldHostCopy(t, 75, "new4@isp.example"); !res.New {
		t.Fatalf("the new run not established on the old host: %+v", res)
	}
	for i, a := range old { // the old list's signers, on upgraded hosts
		r.copy(t, 80+i, a)
	}
	var free []string
	for _, a := range old {
		if suspensionOf(t, r.rig, a) == nil {
			free = append(free, a)
		}
	}
	sp, _ := campaignSpared(ctx, r.store, r.id)
	inForce := sp.InForce(r.now, 15*time.Minute)
	t.Logf("new run established on a host of the previous version; the 5 old-list accounts' copies on upgraded hosts: %d of 5 not suspended %v; old spare in force: %v", len(free), free, inForce)
	if len(free) > 0 || inForce {
		t.Errorf("rolling upgrade: the old spare outlives its run (%v): %d of 5 senders of the new run not suspended", inForce, len(free))
	}
}

// rspare4Victims are the five accounts that established newSpareRig's
// campaign.
var rspare4Victims = []string{"victim0@isp.example", "victim1@isp.example", "victim2@isp.example", "victim3@isp.example", "victim4@isp.example"}
