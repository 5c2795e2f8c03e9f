package probe

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
)

// Review of #26/#30: each test is an attempt to make a scan that did not
// test a target declare it fixed, or to make a wait unbounded.

// An SMTP server that is busy (an open relay saturated by the spammers
// using it says 421 at the greeting, or closes at once) was not tested:
// it is not closed.
func TestReviewBusyRelayIsNotClosed(t *testing.T) {
	s := testScanner(t, "ports: {smtp: [2525]}\ntimeouts: {connect: 1s, reply: 1s, connection: 3s}\n")
	serve(t, "127.0.126.2:2525", func(c net.Conn) {
		io.WriteString(c, "421 4.3.2 mx.customer.test too many connections, try later\r\n")
	})
	serve(t, "127.0.126.3:2525", func(c net.Conn) {}) // closes at once
	for _, a := range []string{"127.0.126.2:2525", "127.0.126.3:2525"} {
		f, o := s.relay(context.Background(), netip.MustParseAddrPort(a))
		if f != nil || o.State == Closed || o.State == Open {
			t.Errorf("%s: %+v %+v; want unreachable or error (not tested)", a, f, o)
		}
	}
}
