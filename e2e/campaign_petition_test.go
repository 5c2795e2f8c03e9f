package e2e

import (
	"fmt"
	"testing"

	"outguard/internal/hamgen"
)

// Through Postfix, on each store, with the example config's campaign
// defaults (issue 28): 16 customers' petition letter to their
// representative (every third with the local paper in Cc), 4 of whom
// also send it to an address of their own (themselves in Cc, a friend in
// Cc, the letter again to their own address, again to a friend), are
// all delivered: no campaign, nobody suspended. Then a phishing run from
// 5 of the same customers is still found: the 5 senders suspended.
// Before: a campaign at the third of those 4 (their 3 addresses, the
// representative's and the paper's), its signers suspended.
func TestCampaignPetitionElsewhereThroughPostfix(t *testing.T) {
	var msgs []hamgen.Message
	for i := range 16 {
		m := customer(hamgen.Petition(7, i), "p", i)
		switch i {
		case 3:
			m.Rcpts = append(m.Rcpts, m.From)
		case 6:
			m.Rcpts = append(m.Rcpts, "friend6@mail.test")
		}
		msgs = append(msgs, m)
		switch i {
		case 9:
			m.Rcpts = []string{m.From}
			msgs = append(msgs, m)
		case 12:
			m.Rcpts = []string{"friend12@mail.test"}
			msgs = append(msgs, m)
		}
	}
	innocentThenRunFound(t, msgs)
}

// Through Postfix, on each store, with the example config's campaign
// defaults (issue 28, schema 19): 12 customers' petition letter to their
// representative and the local paper, the first 4 of whom also Cc a
// friend of their own, is all delivered: the representative and the
// paper are the core every signer reached, and what is left is 4
// friends, no campaign, nobody suspended. Then a phishing run from 5 of
// the same customers is still found: the 5 senders suspended. Before:
// a campaign at the fifth signer (4 friends and the representative
// matched), its signers suspended.
func TestCampaignPetitionFriendsThroughPostfix(t *testing.T) {
	var msgs []hamgen.Message
	for i := range 12 {
		m := customer(hamgen.Petition(19, i), "p", i)
		m.Rcpts = []string{"anna.weber@parliament.example", "letters@district-news.example"}
		if i < 4 {
			m.Rcpts = append(m.Rcpts, fmt.Sprintf("friend%d@mail.test", i))
		}
		msgs = append(msgs, m)
	}
	innocentThenRunFound(t, msgs)
}
