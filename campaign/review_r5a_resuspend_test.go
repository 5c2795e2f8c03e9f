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

// TestReviewR5aUnsuspendDuringCampaign checks docs/suspension.md,
// "Overview for the postmaster": "While the campaign lasts the account's
// next copy of it suspends it again; every automatic suspension counts
// toward limits.escalate (3 in 30 days: until lifted)". An account of an
// established campaign is unsuspended by the desk (as milterctl accounts
// unsuspend does: Store.Unsuspend) while the campaign is live, then sends
// another copy within the window.
func TestReviewR5aUnsuspendDuringCampaign(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.lim.Escalate = limits.Escalation{After: 3, Within: 30 * 24 * time.Hour}
	for i := range 5 {
		rcpt, raw := hamgen.Phish(i, false)
		r.now = r.now.Add(time.Minute)
		if v := r.send(t, fmt.Sprintf("victim%d@isp.example", i), []string{rcpt}, raw); v.Action != policy.Accept {
			t.Fatalf("copy %d: %s %s", i, v.Action, v.Reason)
		}
	}
	if s := suspensionOf(t, r, "victim0@isp.example"); s == nil {
		t.Fatal("victim0 not suspended by the campaign")
	}
	for round := 1; round <= 3; round++ {
		r.now = r.now.Add(time.Minute)
		if ok, err := r.store.Unsuspend(ctx, "victim0@isp.example", r.now); err != nil || !ok {
			t.Fatalf("round %d: unsuspend: %v %v", round, ok, err)
		}
		r.now = r.now.Add(time.Minute)
		rcpt, raw := hamgen.Phish(100+round, false)
		v := r.send(t, "victim0@isp.example", []string{rcpt}, raw)
		s := suspensionOf(t, r, "victim0@isp.example")
		t.Logf("round %d: copy after unsuspend: %s (%s); suspended again: %v", round, v.Action, v.Reason, s != nil)
		if v.Action != policy.Quarantine {
			t.Errorf("round %d: the unsuspended sender's next copy of the live campaign got %s, want quarantine", round, v.Action)
		}
		if s == nil {
			t.Errorf("round %d: the unsuspended sender's next copy of the live campaign did not suspend it again", round)
			continue
		}
		t.Logf("round %d: suspension until %v escalated %v reason %q", round, s.Until, s.Escalated, s.Reason)
		if round == 2 && !s.Escalated {
			t.Errorf("round %d: third automatic suspension within 30 days not escalated", round)
		}
	}
}

func suspensionOf(t *testing.T, r *rig, key string) *limits.Suspension {
	ss, err := r.store.Suspensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range ss {
		if ss[i].Key == key {
			return &ss[i]
		}
	}
	return nil
}
