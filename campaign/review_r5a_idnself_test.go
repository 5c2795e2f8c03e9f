package campaign

import (
	"fmt"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// TestReviewR5aPetitionCcSelfIDN (review r5a, claim 2c): an ISP whose
// consumer domain is an IDN (bücher.example, listed so in
// campaign.shared_domains, as config accepts it). Logins are ASCII (the
// login in its punycode form, xn--bcher-kva.example), and signers' mail
// clients with SMTPUTF8 Cc their own address in its Unicode form (or the
// other way round). organisation() folds the two spellings (asciiName);
// sameMailbox, which compares splitAddress's domains and domainOf's
// registrable domains as bytes, does not: each signer's Cc to itself is a
// recipient of its own, as TestReviewPetitionCcSelf was before the fix,
// and 20 signers to the committee are a campaign. The control (the Cc
// spelt as the login) is none.
func TestReviewR5aPetitionCcSelfIDN(t *testing.T) {
	const uni, puny = "bücher.example", "xn--bcher-kva.example"
	for name, v := range map[string]func(i int) (login, from, cc string){
		"control: Cc as the login": func(i int) (string, string, string) {
			return fmt.Sprintf("citizen%d@%s", i, puny), fmt.Sprintf("citizen%d@%s", i, puny), fmt.Sprintf("citizen%d@%s", i, puny)
		},
		"login punycode, Cc Unicode": func(i int) (string, string, string) {
			return fmt.Sprintf("citizen%d@%s", i, puny), fmt.Sprintf("citizen%d@%s", i, puny), fmt.Sprintf("citizen%d@%s", i, uni)
		},
		"user-name login, from Unicode, Cc punycode": func(i int) (string, string, string) {
			return fmt.Sprintf("citizen%d", i), fmt.Sprintf("citizen%d@%s", i, uni), fmt.Sprintf("citizen%d@%s", i, puny)
		},
	} {
		r := newRig(t)
		r.eng = New(Options{Store: r.store, Limits: r.lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
			SharedDomains: []string{uni}, Seed: FixedSeed(Seed{}), Log: r.lim.Log, Now: func() time.Time { return r.now }})
		r.lim.Campaigns = r.eng
		var msgs []hamgen.Message
		for i := range 20 {
			m := hamgen.Petition(1, i)
			login, from, cc := v(i)
			m.Account, m.From = login, from
			m.Rcpts = nil
			for j := range 5 {
				m.Rcpts = append(m.Rcpts, fmt.Sprintf("member%d@council.example", j))
			}
			m.Rcpts = append(m.Rcpts, cc)
			msgs = append(msgs, m)
		}
		first, cs, s := r.sendAll(t, msgs)
		t.Logf("%s: campaign at message %d, %d campaigns, %d suspended", name, first, cs, s)
		if first >= 0 || cs != 0 || s != 0 {
			t.Errorf("%s: 20 signers to the committee, each Cc'ing their own mailbox: campaign at message %d, %d campaigns, %d suspended", name, first, cs, s)
		}
	}
}
