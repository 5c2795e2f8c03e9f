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

// A petition the engine takes for a campaign (each signer also writing to
// a friend of their own: a shape docs/suspension.md lists as still
// found) is spared by the abuse desk, its six signers unsuspended (as
// milterctl campaigns spare does): their next copies are held and they
// are not suspended; a signer who first sends it after the spare is
// suspended (a run joined to a spared campaign must not be spared: review
// rspare); the pending mark of a signer whose suspension the store had
// asked for is finished without suspending (TestPendingOfASparedCampaign);
// a phishing run meanwhile is still found and its senders suspended.
// Past the spare a first signer's next copy suspends it again.
func TestSparedCampaignSparesItsSenders(t *testing.T) {
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
	for _, m := range msgs[:6] {
		if _, err := r.store.Unsuspend(ctx, m.Account, r.now); err != nil {
			t.Fatal(err)
		}
	}
	send := func(m hamgen.Message) policy.Verdict {
		t.Helper()
		r.now = r.now.Add(time.Minute)
		tx := transaction(t, m.Account, m.Rcpts, m.Raw)
		tx.From = "<" + m.From + ">"
		v, err := r.commit(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	suspended := func(account string) bool {
		_, s, _ := r.store.Usage(ctx, account, r.now)
		return s.Active(r.now) && s.Signal == limits.SignalCampaign
	}
	for i, m := range msgs[:6] { // minutes 1 to 6
		if v := send(m); v.Action != policy.Quarantine || suspended(m.Account) {
			t.Fatalf("spared signer %d's next copy: %v, suspended %v; want held, not suspended", i+1, v, suspended(m.Account))
		}
	}
	for i, m := range msgs[6:8] { // minutes 7, 8
		if v := send(m); v.Action != policy.Quarantine || !suspended(m.Account) {
			t.Fatalf("signer %d, first after the spare: %v, suspended %v; want held and suspended", 7+i, v, suspended(m.Account))
		}
	}
	after, _ := r.store.Suspensions(ctx)
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
	// Past the spare (the campaign kept going: a copy a minute) a first
	// signer's next copy is held and suspends it.
	r.now = r.now.Add(time.Minute)
	if !r.now.After(until) {
		t.Fatal("the test's clock is not past the spare")
	}
	if v := send(msgs[0]); v.Action != policy.Quarantine || !suspended(msgs[0].Account) {
		t.Fatalf("a spared signer's copy past the spare: %v, suspended %v; want held and suspended", v, suspended(msgs[0].Account))
	}
}
