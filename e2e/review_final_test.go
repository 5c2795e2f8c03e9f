package e2e

import "testing"

// TestReviewFinalQuotedPairCcThroughPostfix (review final, claim 2):
// TestCampaignSenderLoginMapsThroughPostfix's 20 signers, each Cc'ing
// their own address spelt with a needless quoted-pair
// ("jane\.doeN"@isp.test, RFC 5321: the same mailbox), through Postfix
// binding senders to logins and sender_login_maps: true. Want: all
// delivered, no campaign, nobody suspended.
func TestReviewFinalQuotedPairCcThroughPostfix(t *testing.T) {
	r, msgs := boundPetition(t, `"jane\.doe%d"@isp.test`)
	r.innocent(t, msgs)
}
