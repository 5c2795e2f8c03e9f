package main

// Independent review of issue #33 (memory): what a client of the socket
// can make milterd hold with well-formed packets, against the real binary.

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
)

// drain reads and drops what milterd answers on c, so that its writes
// never block.
func drain(c net.Conn) {
	go io.Copy(io.Discard, c)
}

// One connection, one MAIL, then 12 000 recipients of 8 KiB each (96 MB):
// every accepted RCPT was kept in the transaction, so that a client held
// milterd's memory in proportion to what it sent (189 MiB with 500
// recipients of 200 KiB). Now those past 1 MiB get 452 4.5.3.
func TestReviewRcptFlood(t *testing.T) {
	d, _ := hostile(t, "", "")
	c := dial(t, d.socket, true)
	drain(c)
	c.Write(pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00"))
	c.Write(pkt('M', "<a@example.net>\x00"))
	addr := "<" + strings.Repeat("b", 8<<10) + "@example.net>\x00"
	for range 12000 {
		if _, err := c.Write(pkt('R', addr)); err != nil {
			t.Fatalf("a well-formed recipient: %v\n%s", err, tail(grepLines(d.log.String(), "level=")))
		}
	}
	time.Sleep(500 * time.Millisecond)
	d.alive(t, "a recipient flood")
	rss := harness.PeakRSS(d.cmd.Process.Pid)
	t.Logf("milterd peak RSS through 12 000 recipients of 8 KiB: %.1f MiB", rss)
	if rss > rssBound {
		t.Errorf("peak RSS %.0f MiB, bound %d MiB", rss, rssBound)
	}
	d.waitLog(t, "recipients reached")
}

// A recipient of 200 KiB is no MTA's: closed as malformed.
func TestReviewRcptOversized(t *testing.T) {
	d, _ := hostile(t, "", "")
	c := dial(t, d.socket, true)
	c.Write(pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00"))
	c.Write(pkt('M', "<a@example.net>\x00"))
	c.Write(pkt('R', "<"+strings.Repeat("b", 200<<10)+"@example.net>\x00"))
	closedWithin(t, c, 5*time.Second)
	d.alive(t, "a recipient of 200 KiB")
	d.waitLog(t, "RCPT of ")
}

// Connections that only send macros, one large MACRO packet for each
// stage go-milter keeps apart, then stay idle: each holds them until
// idle_timeout.
func TestReviewMacroRetention(t *testing.T) {
	d, _ := hostile(t, "", "")
	value := strings.Repeat("v", 200<<10)
	var wg sync.WaitGroup
	for range 40 {
		c := dial(t, d.socket, true)
		drain(c)
		wg.Go(func() {
			for _, stage := range "CHMRTNEL" {
				c.Write(pkt('D', string(stage), "{x}\x00", value, "\x00"))
			}
		})
	}
	wg.Wait()
	time.Sleep(time.Second)
	d.alive(t, "macro-only connections")
	rss := harness.PeakRSS(d.cmd.Process.Pid)
	t.Logf("milterd peak RSS with 40 connections holding macros: %.1f MiB", rss)
	if rss > rssBound {
		t.Errorf("peak RSS %.0f MiB, bound %d MiB", rss, rssBound)
	}
}

// Connections that each announce a packet of maxPacket (256 KiB) and send
// all of it but its last byte, then stall within read_timeout: each holds
// one packet's buffer, no more (bound: baseline + 100 x 2 x 256 KiB).
func TestReviewTricklingMaxPackets(t *testing.T) {
	d, _ := hostile(t, "", "")
	base := harness.PeakRSS(d.cmd.Process.Pid)
	const n = 4*65536 - 100
	p := pkt('L', "X-Big\x00", strings.Repeat("v", n-len("X-Big\x00")-2), "\x00")
	for range 100 {
		c := dial(t, d.socket, true)
		c.Write(p[:len(p)-1])
	}
	time.Sleep(time.Second)
	d.alive(t, "trickling connections")
	rss := harness.PeakRSS(d.cmd.Process.Pid)
	t.Logf("milterd peak RSS with 100 connections each inside a 256 KiB packet: %.1f MiB (baseline %.1f)", rss, base)
	if bound := base + 100*2*0.25; rss > bound {
		t.Errorf("peak RSS %.0f MiB, bound %.0f MiB", rss, bound)
	}
}
