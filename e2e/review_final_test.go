package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"outguard/internal/hamgen"
	"outguard/internal/harness"
)

// TestReviewFinalQuotedPairCcThroughPostfix (review final, claim 2):
// TestCampaignSenderLoginMapsThroughPostfix's 20 signers, each Cc'ing
// their own address spelt with a needless quoted-pair
// ("jane\.doeN"@isp.test, RFC 5321: the same mailbox), through Postfix
// binding senders to logins and sender_login_maps: true. Want: all
// delivered, no campaign, nobody suspended.
func TestReviewFinalQuotedPairCcThroughPostfix(t *testing.T) {
	users := map[string]string{}
	var owners strings.Builder
	var msgs []hamgen.Message
	for i := range 20 {
		m := hamgen.Petition(3, i)
		m.Account, m.From = fmt.Sprintf("ab%d", 1000+i), fmt.Sprintf("jane.doe%d@isp.test", i)
		m.Rcpts = []string{fmt.Sprintf(`"jane\.doe%d"@isp.test`, i)}
		for j := range 5 {
			m.Rcpts = append(m.Rcpts, fmt.Sprintf("member%d@council.example", j))
		}
		msgs = append(msgs, m)
		users[m.Account] = "secret-" + m.Account
		fmt.Fprintf(&owners, "%s %s\n", m.From, m.Account)
	}
	yaml := campaignYAML(t, "sqlite", filepath.Join(t.TempDir(), "alerts"), "[isp.test], sender_login_maps: true")
	s, _, res := harness.ConfigStack(t, yaml, sendersBound(t, users, owners.String()))
	r := &campaignRig{s: s, res: res, users: users}
	r.innocent(t, msgs)
}
