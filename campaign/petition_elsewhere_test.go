package campaign

import (
	"fmt"
	"math/rand/v2"
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

// TestPetitionCommittee: the petition family (hamgen.Petition) sent to a
// committee rather than one representative, on the engine's path (the
// recipients recorded as rcptHashes chooses them): 20 signers each to the
// same 5 members; 30 each to all 50 councillors of a city council (the
// 16 recorded, chosen in the seed-keyed order, are the same 16 for every
// signer); 20 to the 5 members, each also in Cc to their own login.
// No campaign, nobody suspended. Before (schema 16): each was a campaign
// at the fifth signer and every signer was suspended.
func TestPetitionCommittee(t *testing.T) {
	members := func(n int) []string {
		var rs []string
		for i := range n {
			rs = append(rs, fmt.Sprintf("member%d@council.example", i))
		}
		return rs
	}
	cases := map[string]struct {
		signers int
		rcpts   func(m hamgen.Message) []string
	}{
		"committee": {20, func(hamgen.Message) []string { return members(5) }},
		"council":   {30, func(hamgen.Message) []string { return members(50) }},
		"own login": {20, func(m hamgen.Message) []string { return append(members(5), m.Account) }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			var msgs []hamgen.Message
			for i := range c.signers {
				m := hamgen.Petition(1, i)
				m.Rcpts = c.rcpts(m)
				msgs = append(msgs, m)
			}
			if first, cs, s := r.sendAll(t, msgs); first >= 0 || cs != 0 || s != 0 {
				t.Fatalf("campaign at message %d, %d campaigns, %d suspended", first, cs, s)
			}
		})
	}
}

// TestSpearPhishingStaff: what lets the committee's petition pass lets
// no spear-phishing run through: 8 stolen accounts each sending the
// phish to a random 8 of one company's 20 staff (every victim reached by
// several accounts) are found at the fifth, and the 8 are suspended.
func TestSpearPhishingStaff(t *testing.T) {
	r := newRig(t)
	g := rand.New(rand.NewPCG(28, 17))
	var msgs []hamgen.Message
	for i := range 8 {
		m := phishFrom(i, fmt.Sprintf("victim%d@isp.example", i), "")
		m.Rcpts = nil
		for _, j := range g.Perm(20)[:8] {
			m.Rcpts = append(m.Rcpts, fmt.Sprintf("staff%d@company.example", j))
		}
		msgs = append(msgs, m)
	}
	if first, c, s := r.sendAll(t, msgs); first != 4 || c != 1 || s != 8 {
		t.Fatalf("campaign at message %d (want 4), %d campaigns, %d suspended (want 8)", first, c, s)
	}
}
