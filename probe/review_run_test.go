package probe

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A scan ended (SIGTERM) while one server drips its greeting a byte a
// second and another's greylisting retry is pending: it ends within
// seconds, keeps no scan file, and so declares nothing fixed.
func TestReviewScanEndedMidRunKeepsNothing(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse("t.yaml", []byte(`
canary: {listen: "127.0.126.30:2525", address: "127.0.126.30:2525", domain: canary.test, wait: 1s}
ports: {smtp: [2526], proxy: [], telnet: []}
timeouts: {connect: 1s, reply: 1h, connection: 2h, scan: 6h}
greylist_retry: 1h
helo: probe.isp.test
state_dir: `+dir+`
`))
	if err != nil {
		t.Fatal(err)
	}
	greylisted := make(chan struct{}, 16)
	serve(t, "127.0.126.31:2526", func(c net.Conn) { // drips its greeting
		for _, b := range []byte("220 slow.test ESMTP\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
		io.Copy(io.Discard, c)
	})
	serve(t, "127.0.126.32:2526", func(c net.Conn) { // greylists every recipient
		io.WriteString(c, "220 grey.test ESMTP\r\n")
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(l[:4]) {
			case "RCPT":
				io.WriteString(c, "450 4.2.0 greylisted, try again later\r\n")
				select {
				case greylisted <- struct{}{}:
				default:
				}
			case "QUIT":
				io.WriteString(c, "221 bye\r\n")
				return
			default:
				io.WriteString(c, "250 ok\r\n")
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		sc  *Scan
		err error
	}
	done := make(chan res, 1)
	go func() {
		sc, _, err := RunScan(ctx, cfg, []netip.Prefix{netip.MustParsePrefix("127.0.126.31/32"), netip.MustParsePrefix("127.0.126.32/32")}, slog.New(slog.DiscardHandler), nil)
		done <- res{sc, err}
	}()
	select {
	case <-greylisted:
	case <-time.After(20 * time.Second):
		t.Fatal("the greylisting server was never asked")
	}
	time.Sleep(2 * time.Second) // into the greylisting pause, mid-greeting on the other
	cancel()
	select {
	case r := <-done:
		if r.err == nil {
			t.Errorf("a scan ended mid-run returned no error: %+v", r.sc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the scan went on 10 s after it was ended")
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "scans", "*")); len(names) != 0 {
		t.Errorf("a scan ended mid-run left %v", names)
	}
}
