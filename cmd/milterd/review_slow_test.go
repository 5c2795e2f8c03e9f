package main

// Independent review of issue #33 (slowloris below the deadlines), against
// the real binary.

import (
	"io"
	"strings"
	"testing"
	"time"
)

// read_timeout is "each packet once begun" (milter.read_timeout, wire.go):
// a packet whose 64 KiB pieces each arrive just under read_timeout took
// read_timeout once per piece (4x here) and was not cut.
func TestReviewPacketDripsPastReadTimeout(t *testing.T) {
	d, _ := hostile(t, "milter: {read_timeout: 1s, idle_timeout: 30s}\n", "")
	c := dial(t, d.socket, true)
	const n = 4*65536 - 100 // a header field of 256 KiB: within maxPacket
	p := pkt('L', "X-Big\x00", strings.Repeat("v", n-len("X-Big\x00")-2), "\x00")
	start := time.Now()
	c.Write(p[:4])
	closed := false
	for off := 4; off < len(p) && !closed; off += 65536 {
		piece := p[off:min(off+65536, len(p))]
		if _, err := c.Write(piece[:len(piece)-1]); err != nil {
			closed = true
			break
		}
		time.Sleep(800 * time.Millisecond)
		if _, err := c.Write(piece[len(piece)-1:]); err != nil {
			closed = true
		}
	}
	took := time.Since(start)
	if !closed {
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(make([]byte, 1))
		closed = err == io.EOF || err != nil && !strings.Contains(err.Error(), "timeout")
	}
	if !closed {
		t.Errorf("a packet that took %v with read_timeout 1s was not cut", took.Round(100*time.Millisecond))
	}
	d.alive(t, "a dripped packet")
}
