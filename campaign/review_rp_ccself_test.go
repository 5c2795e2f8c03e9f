package campaign

import (
	"fmt"
	"strings"
	"testing"

	"outguard/internal/hamgen"
)

// Review rp (issue 28, claim 1), through the engine: the committee's
// petition whose every signer Cc's their own address, at an ISP whose
// SASL logins are user names (citizen7), not addresses: the Cc goes to
// citizen7@isp.example, the envelope sender and From of the signer's
// own login, but selfRcpt matches only a recipient equal to the login.
// Each signer's set is then the committee and an address of its own:
// every set spreads, a campaign at the fifth signer, 20 suspended. With
// address logins (TestPetitionCommittee "own login") none.
func TestReviewPetitionCcSelfUsernameLogin(t *testing.T) {
	r := newRig(t)
	var msgs []hamgen.Message
	for i := range 20 {
		m := hamgen.Petition(1, i)
		addr := m.Account
		m.Account = strings.TrimSuffix(addr, "@isp.example") // the SASL user name
		m.Rcpts = nil
		for j := range 5 {
			m.Rcpts = append(m.Rcpts, fmt.Sprintf("member%d@council.example", j))
		}
		m.Rcpts = append(m.Rcpts, addr)
		msgs = append(msgs, m)
	}
	if first, cs, s := r.sendAll(t, msgs); first >= 0 || cs != 0 || s != 0 {
		t.Fatalf("20 signers to the committee, each Cc'ing their own address (user-name logins): campaign at message %d, %d campaigns, %d suspended", first, cs, s)
	}
}
