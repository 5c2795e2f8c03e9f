package campaign

import "testing"

// TestSameMailbox: an address is its own mailbox with a "+detail" and at
// the ISP's mail subdomain, split at its last "@" as domainOf reads it:
// a quoted local part holding an "@" and the own domain is another
// mailbox, not the own one.
func TestSameMailbox(t *testing.T) {
	const self = "citizen7@isp.example"
	for _, c := range []struct {
		a    string
		want bool
	}{
		{"citizen7@isp.example", true},
		{"citizen7+petition@isp.example", true},
		{"citizen7@mail.isp.example", true},
		{"citizen8@isp.example", false},
		{"citizen7@other.example", false},
		{`"citizen7@isp.example"@other.example`, false},
		{`"x@y"@isp.example`, false},
		{"citizen7", false},
	} {
		if got := sameMailbox(c.a, self); got != c.want {
			t.Errorf("sameMailbox(%q, %q) = %v, want %v", c.a, self, got, c.want)
		}
	}
	for _, c := range []struct {
		login, from string
		bound       bool
		want        bool
	}{
		{"citizen7", "citizen7@isp.example", false, true},
		{"citizen7", "Citizen7@ISP.example", false, true},
		{"citizen7", "victim@isp.example", false, false},
		{"citizen7", "citizen7@victim.example", false, false},
		{"citizen7", `"citizen7@isp.example"@victim.example`, false, false},
		{"citizen7", "@isp.example", false, false},
		// Senders bound to logins: any address at a shared domain,
		// none elsewhere.
		{"ab1234", "jane.doe@isp.example", true, true},
		{"jane@isp.example", "jane.doe@mail.isp.example", true, true},
		{"ab1234", "jane.doe@isp.example", false, false},
		{"ab1234", "jane.doe@victim.example", true, false},
		{"ab1234", `"jane@isp.example"@victim.example`, true, false},
		{"ab1234", "@isp.example", true, false},
		{"ab1234", "", true, false},
	} {
		if got := ownEnvelope(c.login, c.from, []string{"isp.example"}, c.bound); got != c.want {
			t.Errorf("ownEnvelope(%q, %q, bound %v) = %v, want %v", c.login, c.from, c.bound, got, c.want)
		}
	}
	// A bound sender is that very mailbox: its domain, not a parent's
	// or a child's (review slm).
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"jane.doe@isp.example", "jane.doe@isp.example", true},
		{"jane.doe+petition@isp.example", "jane.doe@isp.example", true},
		{"jane.doe@xn--isp-bcher-u9a.example", "jane.doe@isp-bücher.example", true},
		{"victim@isp.example", "victim@biz.isp.example", false},
		{"victim@biz.isp.example", "victim@isp.example", false},
		{"jane@isp.example", "jane.doe@isp.example", false},
		{"jane.doe", "jane.doe@isp.example", false},
	} {
		if got := sameAddress(c.a, c.b); got != c.want {
			t.Errorf("sameAddress(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
