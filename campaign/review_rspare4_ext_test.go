package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/limits"
	"outguard/policy"
)

// deskSpare is what milterctl campaigns spare does (cmd/milterctl
// actions.go SpareCampaign): every sender that sent no other campaign
// not spared for it is listed, the spare recorded, each listed one's
// suspension for the campaign lifted.
func deskSpare(t *testing.T, cs limits.CampaignStore, id string, now time.Time) (listed []string) {
	t.Helper()
	ctx := context.Background()
	senders, err := cs.CampaignSenders(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range senders {
		sent, err := cs.AccountCampaigns(ctx, a, limits.CampaignAccountsMax)
		if err != nil {
			t.Fatal(err)
		}
		other := false
		for _, o := range sent {
			if o.ID != id {
				if sp, _ := cs.SparedAccount(ctx, o.ID, a, time.Now(), 15*time.Minute); !sp {
					other = true
				}
			}
		}
		if !other {
			listed = append(listed, a)
		}
	}
	if err := cs.SpareCampaign(ctx, id, "desk", now, listed); err != nil {
		t.Fatal(err)
	}
	for _, a := range listed {
		if _, err := cs.LiftCampaign(ctx, a, id); err != nil {
			t.Fatal(err)
		}
	}
	return listed
}

// TestReviewRspare4SpareFreesAbsorbedRun (pinned): claim 1, "joined runs,
// bridging texts, accounts added to the list by an attacker". Design B
// spares "the accounts that had sent the campaign when the desk ran it";
// the store's list of them (CampaignSenders) is every account whose copy
// was filed under the id, and a run can have its own text filed there
// (review rspare3's bridge: 5 copies of its text with the petition
// appended link its keys to the petition). Run before the desk looks, the
// run's 10 accounts, which never sent a word of the petition, are
// suspended for the petition's id; the desk, judging the petition
// (its sample subject, its signers), spares the campaign: the run's
// accounts are listed (they sent no other campaign), lifted, and their
// further copies of their own text suspend none of them. Control: the
// petition's signers only are what the desk judged.
func TestReviewRspare4SpareFreesAbsorbedRun(t *testing.T) {
	ctx := context.Background()
	for name, open := range rspare3Stores(t) {
		t.Run(name, func(t *testing.T) {
			r := newSRig(t, open())
			signers, _ := r.phishRun(t, "signer", 0, 5)
			cs, _ := r.cs.Campaigns(ctx, time.Time{}, 10)
			if len(cs) != 1 {
				t.Fatalf("campaigns: %v", cs)
			}
			id := cs[0].ID
			var bridge, run []string
			for i := range 5 {
				a := fmt.Sprintf("bridge%d@isp.example", i)
				bridge = append(bridge, a)
				rcpt, raw := rspare3SpamMsg(i, true)
				r.now = r.now.Add(time.Minute)
				r.send(t, a, []string{rcpt}, raw)
			}
			underP := 0
			for i := range 10 {
				a := fmt.Sprintf("run%d@isp.example", i)
				run = append(run, a)
				rcpt, raw := rspare3SpamMsg(100+i, false)
				r.now = r.now.Add(30 * time.Second)
				if v := r.send(t, a, []string{rcpt}, raw); v.Action == policy.Quarantine && strings.Contains(v.Reason, id) {
					underP++
				}
			}
			before := r.suspended(t, run...)
			r.now = r.now.Add(time.Minute)
			listed := deskSpare(t, r.cs, id, r.now)
			inList := 0
			for _, a := range listed {
				if strings.HasPrefix(a, "run") {
					inList++
				}
			}
			// the run goes on with its own text
			heldAfter, runSusp := 0, 0
			for i := range 10 {
				rcpt, raw := rspare3SpamMsg(200+i, false)
				r.now = r.now.Add(30 * time.Second)
				if v := r.send(t, run[i], []string{rcpt}, raw); v.Action == policy.Quarantine {
					heldAfter++
				}
			}
			runSusp = r.suspended(t, run...)
			t.Logf("%s: petition %s, %d signers; run of its own text: %d/10 filed under the petition, %d/10 suspended before the spare; the desk's list: %d accounts, %d of them the run's; after the spare the run's next 10 copies: %d held, %d/10 of its accounts suspended (bridge %d/5)",
				name, id, len(signers), underP, before, len(listed), inList, heldAfter, runSusp, r.suspended(t, bridge...))
			// Pinned (docs/suspension.md, "A campaign judged innocent"): a
			// run filed under the campaign's id is among its senders, and
			// a spare the desk runs without reading the held copies lifts
			// it; what holds is that none of its copies is delivered.
			if inList != 10 || heldAfter != 10 {
				t.Errorf("%s: the spare listed %d of the run's 10 accounts (pinned: 10), and %d of its 10 copies after were held (want 10)", name, inList, heldAfter)
			}
		})
	}
}
