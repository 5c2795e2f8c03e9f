package campaign

import (
	"fmt"
	"testing"
)

// TestReviewFinalBoundAliasSpellings (review final, claim 2): spellings of
// one mailbox that mailboxParts does not fold. A quoted local part whose
// quotes and quoted-pair escape are needless ("jane\.doeN" is jane.doeN,
// RFC 5321 section 4.1.2: a quoted-pair of a non-special is the character)
// and a source route (RFC 5321 section 4.1.1.3: "MUST BE accepted ...
// SHOULD be ignored") each make a signer's Cc of their own address a
// recipient of its own, and the petition a campaign.
func TestReviewFinalBoundAliasSpellings(t *testing.T) {
	for _, c := range []struct{ name, cc string }{
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

// TestReviewFinalMailboxPartsDistinct (review final, claim 2): different
// mailboxes must stay apart in sameAddress/sameMailbox.
func TestReviewFinalMailboxPartsDistinct(t *testing.T) {
	for _, c := range [][2]string{
		{`""@isp.example`, `@isp.example`},
		{`"jane doe"@isp.example`, `jane@isp.example`},
		{`"jane.doe@evil.example"@isp.example`, `jane.doe@evil.example`},
		{`"jane.doe\"@isp.example`, `jane.doe@isp.example`},
		{`"jane.doe"@evil.example`, `jane.doe@isp.example`},
		{`"jane.doe"x@isp.example`, `jane.doe@isp.example`},
		{`jane.doe@.`, `jane.doe@isp.example`},
		{`"jane.doe\t"@isp.example`, `jane.doe@isp.example`},
		{"\"jane.doe\t\"@isp.example", `jane.doe@isp.example`},
		{`"".jane.doe@isp.example`, `jane.doe@isp.example`},
	} {
		if sameAddress(c[0], c[1]) || sameMailbox(c[0], c[1]) {
			t.Errorf("%q and %q: one mailbox (sameAddress %v, sameMailbox %v); want two", c[0], c[1], sameAddress(c[0], c[1]), sameMailbox(c[0], c[1]))
		}
	}
}
