package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testScanner is a scanner of the config with canary.address 127.0.27.1:2525
// (a canary of its own there) and extra YAML, ready to probe single ports.
func testScanner(t *testing.T, extra string) *Scanner {
	t.Helper()
	cfg, err := Parse("t.yaml", []byte(`
canary: {listen: "127.0.27.1:2525", address: "127.0.27.1:2525", domain: canary.test, wait: 2s}
helo: probe.isp.test
state_dir: /nonexistent
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	can := serveCanary(t, cfg)
	s := &Scanner{Config: cfg, Canary: can, Key: can.Key, Log: slog.New(slog.DiscardHandler)}
	s.setup()
	return s
}

// serveCanary runs a canary for canary.test on cfg's canary address until
// the test ends.
func serveCanary(t *testing.T, cfg *Config) *Canary {
	t.Helper()
	l, err := net.Listen("tcp", cfg.Canary.Address)
	if err != nil {
		t.Fatal(err)
	}
	can := NewCanary("canary.test", nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Close() })
	go can.Serve(ctx, l)
	return can
}

// serve runs handler on every connection to addr until the test ends.
func serve(t *testing.T, addr string, handler func(net.Conn)) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handler(c) }()
		}
	}()
}

// drip answers CONNECT with 200 and then a header line every interval,
// counting the lines it got written.
func drip(interval time.Duration, lines *atomic.Int32) func(net.Conn) {
	return func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(c, "X-Drip: %d\r\n", i); err != nil {
				return
			}
			lines.Add(1)
			time.Sleep(interval)
		}
	}
}

// A proxy that drips header lines: a fast drip ends at maxHeaderLines, a
// slow one at the connection's deadline (timeouts.connection), whatever
// the reply timeout lets through line by line.
func TestDrippingProxyBounded(t *testing.T) {
	s := testScanner(t, "ports: {proxy: [3128]}\ntimeouts: {connect: 1s, reply: 1s, connection: 3s}\n")
	var fast, slow atomic.Int32
	serve(t, "127.0.27.2:3128", drip(time.Millisecond, &fast))
	serve(t, "127.0.27.3:3128", drip(300*time.Millisecond, &slow))
	f, o := s.proxy(context.Background(), netip.MustParseAddrPort("127.0.27.2:3128"))
	if f == nil || f.Result != Suspected || !strings.Contains(f.Evidence, "over 50 header lines") || o.State != Open {
		t.Errorf("fast drip: %+v %+v", f, o)
	}
	f, o = s.proxy(context.Background(), netip.MustParseAddrPort("127.0.27.3:3128"))
	if f == nil || f.Result != Suspected || !strings.Contains(f.Evidence, "then nothing") {
		t.Errorf("slow drip: %+v %+v", f, o)
	}
	// 3 s of a line every 0.3 s: about 10 lines per test, never the 50.
	if n := slow.Load(); n > 40 {
		t.Errorf("slow drip: %d lines written before the connection's deadline", n)
	}
}

// The scan's context ends a read that is in progress: the connection is
// closed, not left to its deadline.
func TestContextEndsRead(t *testing.T) {
	s := testScanner(t, "ports: {proxy: [3128]}\ntimeouts: {connect: 1s, reply: 1h, connection: 2h}\n")
	var lines atomic.Int32
	serve(t, "127.0.27.4:3128", drip(100*time.Millisecond, &lines))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome)
	go func() { _, o := s.proxy(ctx, netip.MustParseAddrPort("127.0.27.4:3128")); done <- o }()
	for lines.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	o := <-done // with a reply timeout of an hour: only the context ends it
	if o.State == Closed {
		t.Errorf("a test cut short by the scan's end: %+v; it was not tested to the end", o)
	}
}

// A port that sends one endless line is cut off at maxConnRead.
func TestEndlessGreetingBounded(t *testing.T) {
	s := testScanner(t, "ports: {smtp: [2525]}\ntimeouts: {connect: 1s, reply: 1h, connection: 2h}\n")
	serve(t, "127.0.27.5:2525", func(c net.Conn) {
		io.WriteString(c, "220 ")
		b := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
	f, o := s.relay(context.Background(), netip.MustParseAddrPort("127.0.27.5:2525"))
	if f != nil || !strings.Contains(o.Detail, "read limit") {
		t.Errorf("endless greeting: %+v %+v", f, o)
	}
}

// A Wingate prompt that never ends: prompt() stops at maxPrompt bytes.
func TestEndlessPromptBounded(t *testing.T) {
	s := testScanner(t, "ports: {telnet: [2323]}\ntimeouts: {connect: 1s, reply: 1h, connection: 2h}\n")
	serve(t, "127.0.27.6:2323", func(c net.Conn) {
		b := []byte(strings.Repeat("no prompt here ", 1000))
		for {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
	cn, err := s.dial(context.Background(), "127.0.27.6:2323")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	p, err := cn.prompt(looksLikePrompt)
	if err != nil || len(p) != maxPrompt {
		t.Errorf("endless prompt: %d bytes, %v; want %d", len(p), err, maxPrompt)
	}
}

// Each of the canary's bounds, hit.
func TestCanaryBounds(t *testing.T) {
	c := NewCanary("canary.test", nil, slog.New(slog.DiscardHandler))
	tok := c.Key.NewToken()
	arrivals := func(tok string) []Arrival { a, _ := c.Arrivals(context.Background(), tok); return a }

	// A message over canaryMaxData is refused, and the session ends.
	big := strings.Repeat(strings.Repeat("y", 998)+"\r\n", canaryMaxData/1000+10)
	out := talk(c, "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<"+tok+"@canary.test>\r\nDATA\r\nSubject: big\r\n\r\n"+big+".\r\nQUIT\r\n")
	if !strings.Contains(out, "552 5.3.4 message too big") || strings.Contains(out, "221 ") || len(arrivals(tok)) != 0 {
		t.Errorf("message over %d bytes: %q", canaryMaxData, out[max(0, len(out)-200):])
	}

	// A header over canaryMaxHeader likewise.
	out = talk(c, "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<"+tok+"@canary.test>\r\nDATA\r\n"+strings.Repeat("X-H: "+strings.Repeat("h", 990)+"\r\n", canaryMaxHeader/1000+2)+"\r\n.\r\nQUIT\r\n")
	if !strings.Contains(out, "552 5.3.4 header too big") {
		t.Errorf("header over %d bytes: %q", canaryMaxHeader, out[max(0, len(out)-200):])
	}

	// The Received header kept is cut at canaryMaxReceived.
	talk(c, "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<"+tok+"@canary.test>\r\nDATA\r\nReceived: from a\r\n"+strings.Repeat("\t"+strings.Repeat("r", 200)+"\r\n", 40)+"\r\n.\r\nQUIT\r\n")
	if a := arrivals(tok); len(a) != 1 || len(a[0].Received) != canaryMaxReceived {
		t.Errorf("Received of 8 KB: kept %d bytes, want %d", len(a[0].Received), canaryMaxReceived)
	}

	// A line is cut at canaryMaxLine: a token beyond is not seen.
	tok2 := c.Key.NewToken()
	talk(c, "EHLO "+strings.Repeat("z", canaryMaxLine)+tok2+"\r\nQUIT\r\n")
	if len(arrivals(tok2)) != 0 {
		t.Errorf("token beyond %d bytes of a line was seen", canaryMaxLine)
	}

	// Forged tokens are not kept; a real one at most canaryPerToken times.
	forged := Key("other").NewToken()
	talk(c, strings.Repeat("EHLO "+tok2+" "+forged+"\r\n", 3*canaryPerToken)+"QUIT\r\n")
	if len(arrivals(tok2)) != canaryPerToken || len(arrivals(forged)) != 0 {
		t.Errorf("real token: %d arrivals, want %d; forged: %d", len(arrivals(tok2)), canaryPerToken, len(arrivals(forged)))
	}

	// At most canaryMaxTokens tokens; those older than canaryKeep are
	// pruned to make room.
	for range canaryMaxTokens + 10 {
		c.record([]string{c.Key.NewToken()}, "connection", "192.0.2.1", "")
	}
	c.mu.Lock()
	n := len(c.arrivals)
	c.arrivals[tok][0].Time = time.Now().Add(-canaryKeep - time.Minute)
	c.mu.Unlock()
	if n != canaryMaxTokens {
		t.Errorf("%d tokens kept, want %d", n, canaryMaxTokens)
	}
	tok3 := c.Key.NewToken()
	c.record([]string{tok3}, "connection", "192.0.2.1", "")
	if len(arrivals(tok)) != 0 || len(arrivals(tok3)) != 1 {
		t.Errorf("after canaryKeep: old token kept %d, new token %d", len(arrivals(tok)), len(arrivals(tok3)))
	}

	// A session ends after canaryMaxRead bytes, even in one endless line.
	out = talk(c, "EHLO x\r\n"+strings.Repeat("w", canaryMaxRead)+"\r\nQUIT\r\n")
	if strings.Contains(out, "221 ") {
		t.Errorf("a session of over %d bytes was not cut off", canaryMaxRead)
	}

	// A session ends after maxSession however busy the peer keeps it.
	c.maxSession = 300 * time.Millisecond
	client, server := net.Pipe()
	go func() { c.session(server) }()
	r := bufio.NewReader(client)
	r.ReadString('\n')
	replies := 0
	for range 100 {
		if _, err := io.WriteString(client, "NOOP\r\n"); err != nil {
			break
		}
		if _, err := r.ReadString('\n'); err != nil {
			break
		}
		replies++
		time.Sleep(20 * time.Millisecond)
	}
	client.Close()
	if replies >= 100 {
		t.Errorf("a session of 100 NOOPs 20 ms apart outlived maxSession %v", c.maxSession)
	}
}
