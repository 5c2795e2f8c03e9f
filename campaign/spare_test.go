package campaign

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// A petition the engine takes for a campaign (each signer also writing to
// a friend of their own: a shape docs/suspension.md lists as still
// found) is spared by the abuse desk: the signers after it are not
// suspended, their copies still held (the verdict says spared), and the
// pending mark of a signer whose suspension the store had asked for is
// finished without suspending; a phishing run meanwhile is still found
// and its senders suspended. Past the spare the petition's next signer is
// suspended again.
func TestSparedCampaignSuspendsNobody(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var msgs []hamgen.Message
	for i := range 30 {
		m := hamgen.Petition(5, i)
		m.Rcpts = []string{"anna.weber@parliament.example", fmt.Sprintf("friend%d@mail.example", i)}
		msgs = append(msgs, m)
	}
	first, cs, sus := r.sendAll(t, msgs[:6])
	if first < 0 || cs != 1 || sus == 0 {
		t.Fatalf("the petition's shape is no campaign (first %d, %d campaigns, %d suspended): pick one the engine finds", first, cs, sus)
	}
	list, err := r.store.Campaigns(ctx, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	id := list[0].ID
	until := r.now.Add(9*time.Minute + 30*time.Second)
	if ok, err := r.store.SpareCampaign(ctx, id, r.now, until, "abuse-desk"); !ok || err != nil {
		t.Fatalf("SpareCampaign: %v %v", ok, err)
	}
	before, _ := r.store.Suspensions(ctx)
	for i, m := range msgs[6:15] { // minutes 1 to 9
		r.now = r.now.Add(time.Minute)
		tx := transaction(t, m.Account, m.Rcpts, m.Raw)
		tx.From = "<" + m.From + ">"
		v, err := r.commit(ctx, tx)
		if err != nil || v.Action != policy.Quarantine || !strings.Contains(v.Reason, "spared") {
			t.Fatalf("signer %d after the spare: %v %v, want quarantine, spared", 7+i, v, err)
		}
	}
	after, _ := r.store.Suspensions(ctx)
	if len(after) != len(before) {
		t.Fatalf("%d suspended after the spare, %d before", len(after), len(before))
	}
	n := len(after)
	// A run is no petition: found at its fifth account.
	found := 0
	for i := range 8 {
		rcpt, h, b := phishBody(i)
		r.now = r.now.Add(5 * time.Second)
		tx := transaction(t, fmt.Sprintf("stolen%d@isp.example", i), []string{rcpt}, []byte(h+"\n\n"+b))
		v, err := r.commit(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		if found == 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
			found = i + 1
		}
	}
	if found != 5 {
		t.Fatalf("a run during the spare: found at account %d, want 5", found)
	}
	if after, _ := r.store.Suspensions(ctx); len(after) != n+8 {
		t.Fatalf("the run's 8 senders not suspended during the spare: %d suspended, %d before the run", len(after), n)
	}
	// Past the spare (the campaign kept going: a copy a minute) the
	// petition's next copy is held, its sender suspended.
	r.now = r.now.Add(time.Minute)
	if !r.now.After(until) {
		t.Fatal("the test's clock is not past the spare")
	}
	m := msgs[20]
	tx := transaction(t, m.Account, m.Rcpts, m.Raw)
	tx.From = "<" + m.From + ">"
	if v, err := r.commit(ctx, tx); err != nil || v.Action != policy.Quarantine {
		t.Fatalf("a copy past the spare: %v %v, want quarantine", v, err)
	}
	if _, s, _ := r.store.Usage(ctx, m.Account, r.now); !s.Active(r.now) || s.Signal != limits.SignalCampaign {
		t.Fatalf("its sender past the spare: %+v", s)
	}
	// Not the signers during the spare, whom the store marked
	// pending with their copies: finished then, not left for this copy
	// to suspend.
	for _, m := range msgs[6:15] {
		if _, s, _ := r.store.Usage(ctx, m.Account, r.now); s.Active(r.now) {
			t.Errorf("%s, who signed during the spare, suspended past it: %+v", m.Account, s)
		}
	}
}
