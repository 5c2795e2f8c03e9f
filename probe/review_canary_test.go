package probe

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// One host holding every session slot open (slowly, each within the idle
// timeout) must not shut the canary for the relays and proxies being
// tested: they come from other addresses and still get the banner.
func TestReviewCanaryOneHostCannotTakeEverySession(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.126.25:0")
	if err != nil {
		t.Fatal(err)
	}
	can := NewCanary("canary.test", nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go can.Serve(ctx, l)
	dial := func(from string) (net.Conn, string) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return c, line
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	served := 0
	for range canaryMaxSessions {
		c, banner := dial("127.0.126.66")
		held = append(held, c)
		if strings.HasPrefix(banner, "220 ") {
			served++
		}
	}
	if served != canaryPerPeer {
		t.Errorf("one host got %d sessions at once, want canaryPerPeer (%d)", served, canaryPerPeer)
	}
	c, banner := dial("127.0.126.67")
	c.Close()
	if !strings.HasPrefix(banner, "220 ") {
		t.Errorf("with %d sessions held by one host, another host got %q", canaryMaxSessions, banner)
	}
}
