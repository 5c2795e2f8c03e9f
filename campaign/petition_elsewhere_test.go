package campaign

import (
	"testing"

	"outguard/internal/hamgen"
)

// TestPetitionCopiesElsewhere: the petition family (hamgen.Petition: 20
// customers to their representative, every third with the local paper)
// where 4 signers also send the letter to an address of their own
// (themselves in Cc, a friend in Cc, a separate message to their own
// address, one to a friend): no campaign, nobody suspended, on the
// engine's path (the copy counted in the limits commit). Before: a
// campaign at the third of them (their 3 addresses, the representative's
// and the paper's: the example config's 5), and all 20 signers
// suspended.
func TestPetitionCopiesElsewhere(t *testing.T) {
	r := newRig(t)
	var msgs []hamgen.Message
	for i := range 20 {
		m := hamgen.Petition(1, i)
		switch i {
		case 4: // Cc to themselves
			m.Rcpts = append(m.Rcpts, m.Account)
		case 8: // Cc to a friend
			m.Rcpts = append(m.Rcpts, "old.friend8@mail.example")
		}
		msgs = append(msgs, m)
		switch i {
		case 12: // the same letter again, to their own address
			m.Rcpts = []string{m.Account}
			msgs = append(msgs, m)
		case 15: // and to a friend
			m.Rcpts = []string{"neighbour15@mail.example"}
			msgs = append(msgs, m)
		}
	}
	if first, c, s := r.sendAll(t, msgs); first >= 0 || c != 0 || s != 0 {
		t.Fatalf("campaign at message %d, %d campaigns, %d suspended", first, c, s)
	}
}
