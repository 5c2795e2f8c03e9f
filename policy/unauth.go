package policy

import (
	"context"
	"net/netip"
)

// Unauthenticated decides on mail without a SASL login from clients outside
// the trusted networks. With Action accept it leaves the decision to the
// MTA's own relay rules.
type Unauthenticated struct {
	Action  Action
	Trusted []netip.Prefix
}

func (u *Unauthenticated) Name() string { return "unauthenticated" }

func (u *Unauthenticated) CheckMail(_ context.Context, t *Transaction) (Verdict, error) {
	if t.User != "" || u.Action == Accept || u.trusted(t.Conn.Addr) {
		return Verdict{Action: Accept}, nil
	}
	v := New(u.Action, "no SASL login from untrusted client "+t.Conn.Addr.String())
	if u.Action == Reject || u.Action == Tempfail {
		v.Text = "Authentication required to send mail through this server"
	}
	if u.Action == Reject {
		v.Code, v.Status = 530, "5.7.0" // RFC 4954 6: authentication required
	}
	return v, nil
}

func (u *Unauthenticated) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range u.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
