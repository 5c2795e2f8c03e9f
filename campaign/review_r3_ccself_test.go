package campaign

import (
	"fmt"
	"strings"
	"testing"

	"outguard/internal/hamgen"
)

// TestReviewR3PetitionCcSelfVariants (claim 6, innocent side): 20
// signers with user-name logins (citizen7) write to the 5-member
// committee and Cc their own mailbox, as TestReviewPetitionCcSelfUsernameLogin,
// but the Cc'd own address is spelt as their mail client has it: with a
// plus tag (citizen7+petition@isp.example, delivered to citizen7), or the
// envelope sender at the ISP's mail subdomain (MAIL FROM
// citizen7@mail.isp.example, Cc citizen7@isp.example), or the case of the
// login's own (both lower-cased: control).
func TestReviewR3PetitionCcSelfVariants(t *testing.T) {
	for name, v := range map[string]func(login, addr string) (from, cc string){
		"case (control)": func(login, addr string) (string, string) {
			return strings.ToUpper(addr[:1]) + addr[1:], strings.ToUpper(addr)
		},
		"plus tag on the Cc":    func(login, addr string) (string, string) { return addr, login + "+petition@isp.example" },
		"envelope on subdomain": func(login, addr string) (string, string) { return login + "@mail.isp.example", addr },
	} {
		r := newRig(t)
		var msgs []hamgen.Message
		for i := range 20 {
			m := hamgen.Petition(1, i)
			addr := m.Account
			m.Account = strings.TrimSuffix(addr, "@isp.example")
			from, cc := v(m.Account, addr)
			m.From = from
			m.Rcpts = nil
			for j := range 5 {
				m.Rcpts = append(m.Rcpts, fmt.Sprintf("member%d@council.example", j))
			}
			m.Rcpts = append(m.Rcpts, cc)
			msgs = append(msgs, m)
		}
		if first, cs, s := r.sendAll(t, msgs); first >= 0 || cs != 0 || s != 0 {
			t.Errorf("%s: 20 signers to the committee, each Cc'ing their own mailbox: campaign at message %d, %d campaigns, %d suspended", name, first, cs, s)
		}
	}
}
