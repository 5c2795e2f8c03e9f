package campaign

import "testing"

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
