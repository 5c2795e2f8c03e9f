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

// spareRig is a rig whose phishing run (hamgen.Phish) from victim0 to
// victim4 is a campaign, all five suspended; send sends copy i from acct.
type spareRig struct {
	*rig
	id string
}

func newSpareRig(t *testing.T) *spareRig {
	r := &spareRig{rig: newRig(t)}
	for i := range 5 {
		r.copy(t, i, fmt.Sprintf("victim%d@isp.example", i))
	}
	for i := range 5 {
		if suspensionOf(t, r.rig, fmt.Sprintf("victim%d@isp.example", i)) == nil {
			t.Fatalf("victim%d not suspended by the campaign", i)
		}
	}
	cs, err := r.store.Campaigns(context.Background(), time.Time{}, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("campaigns: %+v %v", cs, err)
	}
	r.id = cs[0].ID
	return r
}

func (r *spareRig) copy(t *testing.T, i int, acct string) (policy.Verdict, *limits.CampaignCount) {
	t.Helper()
	rcpt, raw := hamgen.Phish(i, false)
	r.now = r.now.Add(time.Minute)
	tx := transaction(t, acct, []string{rcpt}, raw)
	v, err := r.commit(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	cc, _, _ := limits.CampaignOutcome(tx)
	return v, cc
}

// spare is what milterctl campaigns spare does for accts: the spare, then
// each one's suspension for the campaign lifted.
func (r *spareRig) spare(t *testing.T, accts ...string) {
	t.Helper()
	ctx := context.Background()
	if err := r.store.SpareCampaign(ctx, r.id, "desk", r.now, accts); err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		if _, err := r.store.LiftCampaign(ctx, a, r.id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSpareStopsSuspensionsOnly: a spared account is suspended no more by
// the campaign, not by its next copy nor as a sender the store left
// pending; an account the spare does not list is, as before; every copy
// is held as before the spare. Unspared, the next copy suspends its
// sender again.
func TestSpareStopsSuspensionsOnly(t *testing.T) {
	ctx := context.Background()
	r := newSpareRig(t)
	r.spare(t, "victim0@isp.example", "victim1@isp.example", "victim2@isp.example", "victim3@isp.example", "victim4@isp.example")
	for i, c := range []struct {
		acct    string
		suspend bool
	}{{"victim0@isp.example", false}, {"victim5@isp.example", true}, {"victim1@isp.example", false}} {
		v, cc := r.copy(t, 10+i, c.acct)
		if v.Action != policy.Quarantine {
			t.Errorf("%s's copy of the spared campaign: %s (%s), want quarantine", c.acct, v.Action, v.Reason)
		}
		if s := suspensionOf(t, r.rig, c.acct); (s != nil) != c.suspend {
			t.Errorf("%s suspended by the spared campaign: %v, want %v", c.acct, s != nil, c.suspend)
		}
		if i == 2 {
			// The store marks a sender pending with its copy; one whose
			// engine never got the answer (another host) is finished by
			// the next copy: a spared one not suspended, one not spared
			// suspended.
			for _, acct := range []string{"victim2@isp.example", "late@isp.example"} {
				late := cc.Copy
				late.Account, late.Time = acct, r.now
				if res, err := r.store.CampaignCopy(ctx, late, cc.Window, cc.Threshold); err != nil || res.ID != r.id {
					t.Fatalf("late copy: %+v %v", res, err)
				}
			}
		}
	}
	r.copy(t, 20, "victim6@isp.example")
	if s := suspensionOf(t, r.rig, "victim2@isp.example"); s != nil {
		t.Errorf("a spared pending sender suspended: %s", s.Reason)
	}
	if s := suspensionOf(t, r.rig, "late@isp.example"); s == nil {
		t.Errorf("a pending sender the spare does not list was not suspended")
	}
	if ended, err := r.store.UnspareCampaign(ctx, r.id); err != nil || !ended {
		t.Fatal(ended, err)
	}
	if v, _ := r.copy(t, 22, "victim0@isp.example"); v.Action != policy.Quarantine || suspensionOf(t, r.rig, "victim0@isp.example") == nil {
		t.Errorf("after unspare: %s, suspended %v; want quarantine and suspended", v.Action, suspensionOf(t, r.rig, "victim0@isp.example") != nil)
	}
}

// TestSpareEndsWithItsRun: the same text established again after a
// window without a copy (the same id: the text's key) is a new run: the
// spare of the last one is stale and every sender is suspended (review
// rspare3: 0 of 7 were).
func TestSpareEndsWithItsRun(t *testing.T) {
	r := newSpareRig(t)
	r.spare(t, "victim0@isp.example", "victim1@isp.example", "victim2@isp.example", "victim3@isp.example", "victim4@isp.example")
	r.now = r.now.Add(2 * time.Hour)
	for i := range 5 {
		r.copy(t, 30+i, fmt.Sprintf("victim%d@isp.example", i))
	}
	for i := range 5 {
		if suspensionOf(t, r.rig, fmt.Sprintf("victim%d@isp.example", i)) == nil {
			t.Errorf("victim%d not suspended by the new run of the spared text", i)
		}
	}
	if sp, err := campaignSpared(context.Background(), r.store, r.id); err != nil || sp.InForce(r.now, 15*time.Minute) {
		t.Errorf("the spare outlived its run: %+v %v", sp, err)
	}
}

// racingSpare is the store whose first read of whether account is spared
// answers no while the desk's spare (and its lift pass, finding nothing
// to lift yet) lands right after that read, before the suspension.
type racingSpare struct {
	*limits.SQLStore
	account string
	spare   func()
}

// TouchSpare is the first read for a copy of a known campaign.
func (s *racingSpare) TouchSpare(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error) {
	ok, err := s.SQLStore.TouchSpare(ctx, id, account, now, window)
	if account == s.account && s.spare != nil {
		s.spare()
		s.spare = nil
	}
	return ok, err
}

// TestSpareRacingSuspension: a copy that read "not spared" just before
// the desk's spare and suspends its sender after the spare's lifts read
// it finds the spare when it reads again: the sender is not left
// suspended, and that suspension counts toward no escalation.
func TestSpareRacingSuspension(t *testing.T) {
	ctx := context.Background()
	r := newSpareRig(t)
	r.spare(t, "victim0@isp.example", "victim1@isp.example", "victim2@isp.example", "victim3@isp.example", "victim4@isp.example")
	racing := &racingSpare{SQLStore: r.store, account: "victim7@isp.example"}
	racing.spare = func() { r.spare(t, "victim7@isp.example") }
	r.eng.o.Store = racing
	v, _ := r.copy(t, 40, "victim7@isp.example")
	if v.Action != policy.Quarantine {
		t.Errorf("the racing copy: %s", v.Action)
	}
	if s := suspensionOf(t, r.rig, "victim7@isp.example"); s != nil {
		t.Errorf("spared while its copy suspended it: left suspended (%s)", s.Reason)
	}
	trail, err := r.store.AuditTrail(ctx, "victim7@isp.example", time.Time{})
	if err != nil || len(trail) != 2 || trail[0].Event != limits.AuditSuspended || trail[1].Event != limits.AuditSpared || trail[1].Time.Before(trail[0].Time) {
		t.Errorf("trail %+v %v: want its suspension, then the spare no earlier", trail, err)
	}
}

// TestSpareLastsWhileItsRunGoesOn: a run that goes on, each copy within
// a window of the last, keeps its spare in force past the first window
// (TouchSpare): the spared senders' copies every 3 minutes for 45
// minutes are held, and none of them is suspended.
func TestSpareLastsWhileItsRunGoesOn(t *testing.T) {
	r := newSpareRig(t)
	r.spare(t, "victim0@isp.example", "victim1@isp.example", "victim2@isp.example", "victim3@isp.example", "victim4@isp.example")
	for i := range 15 {
		r.now = r.now.Add(2 * time.Minute) // and the minute copy adds
		acct := fmt.Sprintf("victim%d@isp.example", i%5)
		if v, _ := r.copy(t, 50+i, acct); v.Action != policy.Quarantine {
			t.Fatalf("copy %d: %s", i, v.Action)
		}
		if s := suspensionOf(t, r.rig, acct); s != nil {
			t.Fatalf("copy %d, %v after the spare: the spared %s suspended", i, time.Duration(i+1)*3*time.Minute, acct)
		}
	}
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
