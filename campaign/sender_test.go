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
		want        bool
	}{
		{"citizen7", "citizen7@isp.example", true},
		{"citizen7", "Citizen7@ISP.example", true},
		{"citizen7", "victim@isp.example", false},
		{"citizen7", "citizen7@victim.example", false},
		{"citizen7", `"citizen7@isp.example"@victim.example`, false},
		{"citizen7", "@isp.example", false},
	} {
		if got := ownEnvelope(c.login, c.from, []string{"isp.example"}); got != c.want {
			t.Errorf("ownEnvelope(%q, %q) = %v, want %v", c.login, c.from, got, c.want)
		}
	}
}
