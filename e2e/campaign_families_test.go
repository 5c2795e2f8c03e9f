package e2e

import (
	"testing"

	"outguard/internal/hamgen"
)

// Through Postfix, on each store, with the example config's campaign
// defaults and the shipped rules: six WordPress sites' password resets
// (each site's login sending as wordpress@ its own domain), eight
// customers' petition letter to their representative, and eight parents
// passing the school's PDF on are all delivered; no campaign, nobody
// suspended. Then the phishing run from 5 of the same customers is still
// found: the 5 senders suspended. Before: each family was a campaign at
// its fifth account and its senders suspended.
func TestCampaignFamiliesThroughPostfix(t *testing.T) {
	var msgs []hamgen.Message
	for s := range 6 {
		msgs = append(msgs, hamgen.PasswordReset(7, s, 0))
	}
	for i := range 8 {
		msgs = append(msgs, customer(hamgen.Petition(7, i), "p", i), customer(hamgen.SchoolLetter(7, i), "s", i))
	}
	innocentThenRunFound(t, msgs)
}
