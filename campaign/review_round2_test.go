package campaign

import (
	"fmt"
	"testing"
)

// TestReviewRound2BoundAliasSpellings (review round2, claim B: "petition
// signers' own alias still innocent"). aliasPetition's 20 signers (logins
// ab1000…, MAIL FROM their own alias jane.doeN@isp.example, bound by
// Postfix's map) Cc their own address as their client spells it. With
// sender_login_maps: true the bound sender is compared with each
// recipient by sameAddress (local part but +detail, domain exactly,
// however IDN-spelt). Spellings of that very mailbox that sameAddress
// does not fold are each signer's recipient of their own again, and the
// petition a campaign with all 20 suspended. A second alias of the
// same login in the map (jdoeN@isp.example: Postfix lets the login send
// as either) is its own mailbox too, yet counted as a recipient of its
// own. Review final added spellings mailboxParts did not fold then: a
// quoted local part whose quotes and quoted-pair escape are needless
// ("jane\.doeN" is jane.doeN, RFC 5321 section 4.1.2: a quoted-pair of a
// non-special is the character) and a source route (RFC 5321 section
// 4.1.1.3: "MUST BE accepted ... SHOULD be ignored").
func TestReviewRound2BoundAliasSpellings(t *testing.T) {
	for _, c := range []struct{ name, cc string }{
		{"case", "Jane.Doe%d@ISP.Example"},
		{"detail", "jane.doe%d+petition@isp.example"},
		{"trailing dot", "jane.doe%d@isp.example."},
		{"quoted local part", "\"jane.doe%d\"@isp.example"},
		{"quoted-pair", `"jane\.doe%d"@isp.example`},
		{"quoted-pair digit", `"jane.doe\%d"@isp.example`},
		{"quoted and final dot", `"jane.doe%d"@isp.example.`},
		{"source route", "@mail.isp.example:jane.doe%d@isp.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.eng.o.SendersBound = true
			msgs := aliasPetition()
			for i := range msgs {
				msgs[i].Rcpts[len(msgs[i].Rcpts)-1] = fmt.Sprintf(c.cc, i)
			}
			first, cs, s := r.sendAll(t, msgs)
			t.Logf("Cc %s, MAIL FROM %s: campaign at message %d, %d campaigns, %d suspended", msgs[0].Rcpts[5], msgs[0].From, first, cs, s)
			if first >= 0 || cs != 0 || s != 0 {
				t.Errorf("senders bound, 20 signers Cc'ing their own address spelt %q: campaign at message %d (0-based), %d campaigns, %d suspended; want none", c.cc, first, cs, s)
			}
		})
	}
}

// TestReviewRound2BoundAliasIDN (review round2, claim B, held): the
// shared domain an IDN, the bound sender in one form and the Cc in the
// other (or upper-case Unicode): one mailbox, no campaign.
func TestReviewRound2BoundAliasIDN(t *testing.T) {
	for _, c := range []struct{ from, cc string }{
		{"jane.doe%d@bücher.example", "jane.doe%d@xn--bcher-kva.example"},
		{"jane.doe%d@xn--bcher-kva.example", "jane.doe%d@bücher.example"},
		{"jane.doe%d@bücher.example", "jane.doe%d@BÜCHER.example"},
	} {
		t.Run(c.cc, func(t *testing.T) {
			r := newRig(t)
			r.eng.o.SendersBound = true
			r.eng.shared = sharedNames([]string{"bücher.example"})
			msgs := aliasPetition()
			for i := range msgs {
				msgs[i].From = fmt.Sprintf(c.from, i)
				msgs[i].Rcpts[len(msgs[i].Rcpts)-1] = fmt.Sprintf(c.cc, i)
			}
			first, cs, s := r.sendAll(t, msgs)
			if first >= 0 || cs != 0 || s != 0 {
				t.Errorf("MAIL FROM %s, Cc %s: campaign at message %d, %d campaigns, %d suspended; want none", msgs[0].From, msgs[0].Rcpts[5], first, cs, s)
			}
		})
	}
}
