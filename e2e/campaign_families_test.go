package e2e

import (
	"fmt"
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
	t.Parallel()
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var msgs []hamgen.Message
			for s := range 6 {
				msgs = append(msgs, hamgen.PasswordReset(7, s, 0))
			}
			for i := range 8 {
				m := hamgen.Petition(7, i)
				m.Account = fmt.Sprint("p", i)
				m.From = m.Account + "@customer.test"
				msgs = append(msgs, m)
				m = hamgen.SchoolLetter(7, i)
				m.Account = fmt.Sprint("s", i)
				m.From = m.Account + "@customer.test"
				msgs = append(msgs, m)
			}
			r := newCampaignRig(t, kind, "[isp.test]", msgs)
			r.innocent(t, msgs)
			r.phishRun(t, []string{"p0", "p1", "p2", "p3", "p4"}, nil)
		})
	}
}
