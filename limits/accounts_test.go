package limits

import (
	"net/netip"
	"testing"

	"outguard/policy"
)

// TestClientChosen: only an envelope sender from a trusted relay keyed by
// sender is the client's own choice; a login, the relay's address, a
// sender from an untrusted client (keyed by its address) or a relay's
// header naming its user is not.
func TestClientChosen(t *testing.T) {
	relay := policy.Conn{Addr: netip.MustParseAddr("192.0.2.7")}
	stranger := policy.Conn{Addr: netip.MustParseAddr("198.51.100.1")}
	for _, c := range []struct {
		name string
		key  string
		tx   *policy.Transaction
		want bool
	}{
		{"trusted relay's sender", "sender", &policy.Transaction{Conn: relay, From: "promo1@gmail.example"}, true},
		{"a login", "sender", &policy.Transaction{Conn: relay, User: "alice@isp.example", From: "promo1@gmail.example"}, false},
		{"the null sender", "sender", &policy.Transaction{Conn: relay}, false},
		{"an untrusted client", "sender", &policy.Transaction{Conn: stranger, From: "promo1@gmail.example"}, false},
		{"keyed by address", "ip", &policy.Transaction{Conn: relay, From: "promo1@gmail.example"}, false},
		{"keyed by header", "header", &policy.Transaction{Conn: relay, From: "promo1@gmail.example"}, false},
	} {
		a := &Accounts{Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, TrustedKey: c.key, TrustedHeader: "X-User"}
		if got := a.ClientChosen(c.tx); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
