package campaign

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/policy"

	"outguard/internal/hamgen"
)

// TestReviewPetitionCcSelf: the petition family where most signers (the
// campaign's site says "Cc yourself") copy the letter to their own
// address, or send it to their own address first. An address that is
// the account's own reaches nobody else: before, each was a recipient
// of that signer alone, more than half of the signers reached one, the
// threshold was met by the first five and all signers were suspended.
func TestReviewPetitionCcSelf(t *testing.T) {
	r := newRig(t)
	var msgs []hamgen.Message
	for i := range 20 {
		m := hamgen.Petition(1, i)
		switch {
		case i%5 == 4: // to their own address alone first, then the letter
			self := m
			self.Rcpts = []string{m.Account}
			msgs = append(msgs, self)
		case i%5 != 0: // Cc to themselves
			m.Rcpts = append(m.Rcpts, m.Account)
		}
		msgs = append(msgs, m)
	}
	if first, c, s := r.sendAll(t, msgs); first >= 0 || c != 0 || s != 0 {
		t.Fatalf("campaign at message %d, %d campaigns, %d suspended", first, c, s)
	}
}

// TestReviewRunCcSelf: what lets the petition that Ccs its signers pass
// lets no run through: stolen accounts each sending the phish to a
// victim, a shared decoy and their own address (and an envelope sender
// forged to the victim's address, which is not the account's) are
// found at the fifth, and the five are suspended.
func TestReviewRunCcSelf(t *testing.T) {
	r := newRig(t)
	for i := range 5 {
		rcpt, raw := hamgen.Phish(i, i%2 == 1)
		r.now = r.now.Add(time.Minute)
		account := fmt.Sprintf("victim%d@isp.example", i)
		tx := transaction(t, account, []string{rcpt, "decoy@news.example", strings.ToUpper(account)}, raw)
		tx.From = rcpt
		if v, err := r.commit(context.Background(), tx); err != nil || v.Action != policy.Accept {
			t.Fatalf("copy %d: %+v %v", i, v, err)
		}
	}
	if sus, _ := r.store.Suspensions(context.Background()); len(sus) != 5 {
		t.Fatalf("%d suspended, want the 5 senders", len(sus))
	}
}

// TestReviewGroundDecoys: the recipients a copy records (MaxRcpts) are
// not the sender's to choose. A run over 25 stolen accounts (a fleet
// with campaign.accounts 20, which the config allows up to 256) each
// sending the phish to 16 decoys whose hashes sort first (found by
// trying addresses: one hash in 4096 begins 000) and to 40 victims of
// its own is found: before, every copy recorded the 16 decoys alone, no
// account reached a recipient of its own, and at most 16 could be
// matched: never 20.
func TestReviewGroundDecoys(t *testing.T) {
	var decoys []string
	for i := 0; len(decoys) < MaxRcpts; i++ {
		a := fmt.Sprintf("d%d@decoy.example", i)
		if rcptHashes(&policy.Transaction{Rcpts: []string{a}}, own{}, Seed{})[0] < "001" {
			decoys = append(decoys, a)
		}
	}
	r := newRig(t)
	r.eng = New(Options{Store: r.store, Limits: r.lim, Accounts: 20, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
		SharedDomains: []string{"isp.example"}, Seed: FixedSeed(Seed{run: 28, word: 256}), Log: r.lim.Log, Now: func() time.Time { return r.now }})
	r.lim.Campaigns = r.eng
	for i := range 25 {
		_, raw := hamgen.Phish(i, i%2 == 1)
		rcpts := slices.Clone(decoys)
		for j := range 40 {
			rcpts = append(rcpts, fmt.Sprintf("victim%d-%d@mail.example", i, j))
		}
		r.now = r.now.Add(10 * time.Second)
		if _, err := r.commit(context.Background(), transaction(t, fmt.Sprintf("stolen%d@isp.example", i), rcpts, raw)); err != nil {
			t.Fatal(err)
		}
	}
	if sus, _ := r.store.Suspensions(context.Background()); len(sus) < 20 {
		t.Fatalf("%d suspended, want the run's 20 and more", len(sus))
	}
}
