package campaign

import (
	"context"
	"fmt"
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
