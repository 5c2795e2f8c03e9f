package probe

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// Review of #26/#30: each test is an attempt to make a scan that did not
// test a target declare it fixed, or to make a wait unbounded.

// A proxy that refused CONNECT and then stopped answering (overloaded,
// a lossy path) was not asked the remaining tests (POST, GET, SOCKS): it
// is not closed, and a confirmed forwarding proxy there is not fixed.
func TestReviewProxyAnsweredThenSilentIsNotClosed(t *testing.T) {
	s := testScanner(t, "ports: {proxy: [3128]}\ntimeouts: {connect: 1s, reply: 1s, connection: 3s}\n")
	var conns atomic.Int32
	serve(t, "127.0.126.1:3128", func(c net.Conn) {
		if conns.Add(1) == 1 {
			bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, "HTTP/1.0 405 Method Not Allowed\r\n\r\n")
			return
		}
		io.Copy(io.Discard, c) // accepts, says nothing
	})
	f, o := s.proxy(context.Background(), netip.MustParseAddrPort("127.0.126.1:3128"))
	if f != nil || o.State == Closed || o.State == Open {
		t.Errorf("answered CONNECT, then silent: %+v %+v; want unreachable or error (the other tests did not run)", f, o)
	}
}

// A SOCKS5 server that sends half a reply is bounded by the connection's
// deadline, not by timeouts.scan (x/net/proxy sets the context's deadline
// on the connection).
func TestReviewSOCKS5HalfReplyBounded(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`
canary: {listen: "127.0.126.10:2525", address: "127.0.126.10:2525", domain: canary.test, wait: 1s}
ports: {proxy: [1080], smtp: [], telnet: []}
timeouts: {connect: 1s, reply: 1s, connection: 3s, scan: 2m}
health: {max_unreachable: 1}
greylist_retry: 10s
helo: probe.isp.test
state_dir: /nonexistent
`))
	if err != nil {
		t.Fatal(err)
	}
	can := serveCanary(t, cfg)
	serve(t, "127.0.126.11:1080", func(c net.Conn) {
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil {
			return
		}
		switch b[0] {
		case 5: // SOCKS5: half the method selection, then nothing
			c.Write([]byte{5})
			io.Copy(io.Discard, c)
		case 4: // SOCKS4: refused
			c.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
		default: // HTTP: not a proxy
			io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
		}
	})
	s := &Scanner{Config: cfg, Canary: can, Key: can.Key, Log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	start := time.Now()
	var sc *Scan
	go func() {
		sc, _ = s.Scan(context.Background(), []netip.Prefix{netip.MustParsePrefix("127.0.126.11/32")})
		close(done)
	}()
	select {
	case <-done:
		if sc == nil || sc.Counts[Closed] != 0 {
			t.Errorf("a SOCKS5 half reply: %+v; the port was not tested to the end", sc)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("a SOCKS5 half reply held the scan over 30 s with timeouts.connection 3s (started %v)", start)
	}
}

// A web server that is no proxy (it waits for the rest of a request line
// that the SOCKS tests never send) stays closed, not unreachable: all its
// HTTP tests ran.
func TestReviewWebServerIsClosed(t *testing.T) {
	s := testScanner(t, "ports: {proxy: [3128]}\ntimeouts: {connect: 1s, reply: 1s, connection: 3s}\n")
	serve(t, "127.0.126.4:3128", func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n<html>no</html>\r\n")
	})
	f, o := s.proxy(context.Background(), netip.MustParseAddrPort("127.0.126.4:3128"))
	if f != nil || o.State != Closed {
		t.Errorf("a web server: %+v %+v; want closed", f, o)
	}
}
