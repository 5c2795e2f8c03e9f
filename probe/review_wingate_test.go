package probe

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
)

// A Wingate that takes host:port and then says nothing within the reply
// timeout (a slow connect through it, a lossy path) did not refuse: the
// port was not tested to the end, and a confirmed Wingate there is not
// fixed.
func TestReviewSilentWingateIsNotClosed(t *testing.T) {
	s := testScanner(t, "ports: {telnet: [2323]}\ntimeouts: {connect: 1s, reply: 1s, connection: 3s}\n")
	serve(t, "127.0.126.23:2323", func(c net.Conn) {
		io.WriteString(c, "WinGate>")
		bufio.NewReader(c).ReadString('\n')
		io.Copy(io.Discard, c)
	})
	f, o := s.wingate(context.Background(), netip.MustParseAddrPort("127.0.126.23:2323"))
	if f != nil || o.State == Closed || o.State == Open {
		t.Errorf("silent after host:port: %+v %+v; want unreachable or error", f, o)
	}
}
