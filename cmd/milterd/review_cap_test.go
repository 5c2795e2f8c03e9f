package main

// Independent review of issue #33 (connection cap), against the real
// binary over TCP, where a client can vanish with a reset.

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/internal/harness"
)

// tcpMilterd starts milterd listening on a loopback TCP port.
func tcpMilterd(t *testing.T, extra string) (*proc, string) {
	t.Helper()
	dir := t.TempDir()
	d := &proc{log: &harness.LogBuffer{}, config: filepath.Join(dir, "milterd.yaml"), done: make(chan error, 1)}
	port := d.own(t, func(port int) string {
		return strings.Replace(configText("x", "X-First"), "listen: unix:x", fmt.Sprintf("listen: inet:127.0.0.1:%d", port), 1) + extra
	})
	return d, fmt.Sprintf("127.0.0.1:%d", port)
}

// tcpSession runs one whole message over TCP; it returns an error when
// milterd does not serve it.
func tcpSession(addr string) error {
	s, err := harness.MilterHeaders("tcp", addr, " t")
	if err != nil {
		return err
	}
	defer s.Close()
	s.BodyChunk([]byte("x\r\n"))
	_, act, err := s.End()
	if err != nil {
		return err
	}
	if act.Type != gomilter.ActionAccept {
		return fmt.Errorf("end: %+v", act)
	}
	return nil
}

// Clients that reset their connection in the middle of a packet, many
// times the cap over: each place under max_connections comes back, and
// the cap still admits max_connections sessions at once.
func TestReviewCapCountsResets(t *testing.T) {
	const max = 5
	_, addr := tcpMilterd(t, fmt.Sprintf("milter: {max_connections: %d}\n", max))
	for range 30 {
		var cs []*net.TCPConn
		for range max {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(optneg)
			if err := readPacket(c, 5*time.Second); err != nil {
				t.Fatalf("negotiation within the cap: %v", err)
			}
			c.Write(pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00")[:9])
			cs = append(cs, c.(*net.TCPConn))
		}
		time.Sleep(20 * time.Millisecond)
		for _, c := range cs {
			c.SetLinger(0) // RST
			c.Close()
		}
	}
	time.Sleep(200 * time.Millisecond)
	// max sessions at once, all served.
	var wg sync.WaitGroup
	errs := make(chan error, max)
	for range max {
		wg.Go(func() { errs <- tcpSession(addr) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a session within the cap after the resets: %v", err)
		}
	}
}

// A storm of clients that connect and go at once, far past the cap:
// sessions of the MTA in between are served, not starved.
func TestReviewCapStorm(t *testing.T) {
	_, addr := tcpMilterd(t, "milter: {max_connections: 20}\n")
	stop := make(chan struct{})
	var storms atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := net.Dial("tcp", addr); err == nil {
					storms.Add(1)
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
			}
		})
	}
	failed := 0
	for range 40 {
		if err := tcpSession(addr); err != nil {
			failed++
			t.Logf("session in the storm: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d storm connections; %d of 40 sessions failed", storms.Load(), failed)
	if failed > 0 {
		t.Errorf("%d of 40 sessions failed in a storm of %d connections", failed, storms.Load())
	}

}
