package probe

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/proxy"
)

// A proxy test asks the proxy at addr to reach the canary's SMTP port (what
// spammers use proxies for). It returns nil when the proxy refused or is
// not one, or a finding: confirmed when the canary's banner with a valid
// proof (see Key) came back through the proxy, suspected when the proxy said yes but what
// came back was not our canary (a fake or a filtering proxy).
type proxyTest struct {
	service, name string
	tls           bool // only on a port that did not answer plain HTTP
	run           func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error)
}

var proxyTests = []proxyTest{
	{"http-connect", "HTTP CONNECT", false, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		return s.httpConnect(cn, canary, "HTTP CONNECT")
	}},
	{"http-connect", "HTTP CONNECT over TLS", true, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		// A TLS proxy: the handshake first (any certificate: the proxy's
		// identity is not what is tested), then CONNECT inside.
		tc := tls.Client(cn.Conn, &tls.Config{InsecureSkipVerify: true})
		cn.SetDeadline(cn.deadline())
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		tcn := s.wrap(ctx, tc, cn.end)
		defer tcn.Close()
		return s.httpConnect(tcn, canary, "HTTP CONNECT over TLS")
	}},
	{"http-post", "HTTP POST with an absolute URI", false, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		return s.httpForward(ctx, cn, canary, "POST")
	}},
	{"http-post", "HTTP GET with an absolute URI", false, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		return s.httpForward(ctx, cn, canary, "GET")
	}},
	{"socks4", "SOCKS4 CONNECT", false, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		return s.socks4(cn, canary, false)
	}},
	{"socks4", "SOCKS4a CONNECT", false, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		return s.socks4(cn, canary, true)
	}},
	{"socks5", "SOCKS5 CONNECT, no authentication", false, func(s *Scanner, ctx context.Context, cn *conn, canary string) (*OpenService, error) {
		d, err := proxy.SOCKS5("tcp", cn.RemoteAddr().String(), nil, connDialer{cn.Conn})
		if err != nil {
			return nil, err
		}
		// x/net/proxy puts the context's deadline on the connection (and
		// clears it after): the step's deadline, not timeouts.scan's.
		sctx, cancel := context.WithDeadline(ctx, cn.deadline())
		defer cancel()
		through, err := d.(proxy.ContextDialer).DialContext(sctx, "tcp", canary)
		if isTimeout(err) {
			return nil, err
		}
		if err != nil {
			return nil, nil // refused, or not SOCKS5
		}
		tcn := s.wrap(ctx, through, cn.end)
		defer tcn.Close()
		return s.readCanary(tcn, "SOCKS5 CONNECT granted")
	}},
}

// proxy runs the proxy tests on one port, each on a connection of its own,
// and keeps the first confirmed finding, or else the first suspected one.
// A port that leaves a test without an answer (a tarpit, an overloaded
// proxy, a lossy path) gets no more; the tests after it did not run, so
// the port is unreachable, not closed, even if it answered earlier ones:
// a proxy that refuses CONNECT may forward GET.
func (s *Scanner) proxy(ctx context.Context, addr netip.AddrPort) (*OpenService, Outcome) {
	canary := s.Config.Canary.Address
	var suspected *OpenService
	// speaksHTTP: a test got an HTTP answer; speaksSOCKS: a SOCKS4 test
	// got a SOCKS4 answer.
	tlsPort, speaksHTTP, speaksSOCKS, socks4Silent := false, false, false, false
	end := func(o Outcome) (*OpenService, Outcome) {
		if suspected != nil {
			return suspected, Outcome{State: Open}
		}
		return nil, o
	}
	for _, t := range proxyTests {
		if t.tls && !tlsPort {
			continue // it answered in plain HTTP, or not at all
		}
		if t.service == "socks4" && socks4Silent {
			continue
		}
		if ctx.Err() != nil {
			return nil, Outcome{State: Error, Detail: "the scan ended"}
		}
		cn, err := s.dial(ctx, addr.String())
		if err != nil {
			return end(dialOutcome(err))
		}
		f, err := t.run(s, ctx, cn, canary)
		cn.Close()
		if errors.Is(err, errNotHTTP) {
			tlsPort = true
		}
		isSOCKS := strings.HasPrefix(t.service, "socks")
		if isTimeout(err) {
			switch {
			case isSOCKS && speaksHTTP && !speaksSOCKS:
				// An HTTP server waits for the rest of a request line
				// that SOCKS never sends: it is not a SOCKS proxy, and
				// its HTTP tests all ran.
				return end(Outcome{State: Closed})
			case t.service == "socks4" && !speaksSOCKS:
				// Silent to SOCKS4: SOCKS5 may still answer.
				socks4Silent = true
				continue
			}
			return end(noAnswer(err))
		}
		switch {
		case errors.Is(err, errNotSOCKS):
			err = nil
		case t.service == "socks4" && err == nil:
			speaksSOCKS = true
		case t.service == "http-connect" && err == nil:
			speaksHTTP = true // a status line
		}
		if errors.Is(err, errCanary) {
			return end(Outcome{State: Error, Detail: clean(err.Error())})
		}
		if f == nil {
			continue
		}
		f.Service, f.Test = t.service, t.name
		if f.Result == Confirmed {
			return f, Outcome{State: Open}
		}
		if suspected == nil {
			suspected = f
		}
	}
	return end(Outcome{State: Closed})
}

// errCanary: the canary could not be asked what arrived; the test has no
// result.
var errCanary = errors.New("asking the canary")

// errNotSOCKS: the port answered a SOCKS4 request with something else
// than a SOCKS4 reply.
var errNotSOCKS = errors.New("not a SOCKS4 answer")

// errNotHTTP: the port answered CONNECT with something else than HTTP, or
// hung up, as a TLS port does.
var errNotHTTP = errors.New("not an HTTP answer")

// maxHeaderLines bounds the header lines of a proxy's answer: one that
// sends more (dripping one a second) is not a working tunnel.
const maxHeaderLines = 50

// httpConnect asks for a tunnel (RFC 9110 9.3.6) and reads what comes
// through it.
func (s *Scanner) httpConnect(cn *conn, canary, what string) (*OpenService, error) {
	if err := cn.send(fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", canary, canary)); err != nil {
		return nil, err
	}
	status, err := cn.line()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, err
	}
	if err != nil || !strings.HasPrefix(status, "HTTP/") {
		return nil, errNotHTTP
	}
	code := 0
	fmt.Sscanf(status[strings.IndexByte(status+" ", ' '):], "%d", &code)
	if code != 200 {
		return nil, nil // an HTTP proxy (or server) that said no
	}
	for n := 0; ; n++ {
		if n == maxHeaderLines {
			return &OpenService{Result: Suspected, Evidence: clean(fmt.Sprintf("%s: %s; then over %d header lines", what, status, maxHeaderLines))}, nil
		}
		l, err := cn.line()
		if err != nil {
			return &OpenService{Result: Suspected, Evidence: clean(what + ": " + status + "; then nothing")}, nil
		}
		if l == "" {
			break
		}
	}
	return s.readCanary(cn, what+": "+status)
}

// httpForward asks the proxy to send a request to the canary's SMTP port
// (RFC 9112 3.2.2, absolute form): a proxy that does carries the request
// lines to the canary, and the canary's banner back. A web server that is
// not a proxy answers with its own page, which is no finding.
func (s *Scanner) httpForward(ctx context.Context, cn *conn, canary, method string) (*OpenService, error) {
	token := s.Key.NewToken()
	body := "EHLO " + token + "\r\nQUIT\r\n"
	req := fmt.Sprintf("%s http://%s/%s HTTP/1.0\r\nHost: %s\r\n", method, canary, token, canary)
	if method == "POST" {
		req += fmt.Sprintf("Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	} else {
		req += "\r\n"
	}
	if err := cn.send(req); err != nil {
		return nil, err
	}
	cn.SetReadDeadline(cn.deadline())
	got, rerr := io.ReadAll(io.LimitReader(cn.r, 8192))
	first, _, _ := strings.Cut(string(got), "\n")
	if s.Key.proofIn(string(got)) {
		return &OpenService{Result: Confirmed, Evidence: clean(method + " forwarded; the canary answered through it: " + strings.TrimSpace(first))}, nil
	}
	// A proxy that carried the request to the canary's SMTP port but did
	// not return its banner (not HTTP, so it answered with an error) still
	// connects to port 25 for anyone: the token it carried is the proof.
	arr, err := s.Canary.Arrivals(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCanary, err)
	}
	for _, a := range arr {
		if a.Via == "connection" {
			return &OpenService{Result: Confirmed, Evidence: clean(fmt.Sprintf("%s forwarded to the canary's port (it saw the token, from %s); the proxy answered: %s", method, a.Peer, strings.TrimSpace(first)))}, nil
		}
	}
	if len(got) == 0 && isTimeout(rerr) {
		return nil, rerr // silent: not a refusal, the test has no result
	}
	return nil, nil
}

// socks4 speaks SOCKS4 (and 4a, which names the host instead).
func (s *Scanner) socks4(cn *conn, canary string, fourA bool) (*OpenService, error) {
	ap, err := netip.ParseAddrPort(canary)
	if err != nil || !ap.Addr().Is4() {
		return nil, nil // SOCKS4 reaches IPv4 addresses only
	}
	req := []byte{4, 1, 0, 0}
	binary.BigEndian.PutUint16(req[2:], ap.Port())
	if fourA {
		req = append(req, 0, 0, 0, 1)
	} else {
		a := ap.Addr().As4()
		req = append(req, a[:]...)
	}
	req = append(req, "relayprobe\x00"...)
	if fourA {
		req = append(req, ap.Addr().String()+"\x00"...)
	}
	if err := cn.send(string(req)); err != nil {
		return nil, err
	}
	var resp [8]byte
	cn.SetReadDeadline(cn.deadline())
	if _, err := io.ReadFull(cn.r, resp[:]); err != nil {
		return nil, err
	}
	if resp[0] != 0 {
		return nil, errNotSOCKS
	}
	if resp[1] != 0x5a {
		return nil, nil // refused
	}
	return s.readCanary(cn, "SOCKS4 request granted (0x5a)")
}

// readCanary reads the first line through an open tunnel: the canary's
// banner with a valid proof confirms the proxy.
func (s *Scanner) readCanary(cn *conn, said string) (*OpenService, error) {
	banner, err := cn.line()
	if err != nil {
		return &OpenService{Result: Suspected, Evidence: clean(said + "; then nothing came through")}, nil
	}
	if !s.Key.proofIn(banner) {
		return &OpenService{Result: Suspected, Evidence: clean(said + "; but not our canary answered: " + banner)}, nil
	}
	// Say who we are to the canary, so that its log names this probe.
	cn.send("EHLO " + s.Config.HELO + "\r\nQUIT\r\n")
	return &OpenService{Result: Confirmed, Evidence: clean(said + "; the canary answered through it: " + banner)}, nil
}

// connDialer hands x/net/proxy the connection already opened (at the
// configured rate) instead of letting it dial.
type connDialer struct{ c net.Conn }

func (d connDialer) Dial(network, addr string) (net.Conn, error) { return d.c, nil }
func (d connDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.c, nil
}
