package main

// Independent review of issue #33 (headers counted in memory_limit), with
// many connections at once, against the real binary.

import (
	"net"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
)

// Fifty connections each hold a message of ~950 KiB (under the default
// memory_limit, 1 MiB): once as header fields right under 64 KiB, once as
// body. Peak RSS of the first within 1.2x of the second.
func TestReviewHeaderHeavyConnections(t *testing.T) {
	peak := func(headers bool) float64 {
		d, _ := hostile(t, "", "")
		var cs []net.Conn
		field := strings.Repeat("h", 60<<10)
		chunk := strings.Repeat("b", 60<<10)
		for range 50 {
			c := dial(t, d.socket, true)
			drain(c)
			c.Write(pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00"))
			c.Write(pkt('M', "<a@example.net>\x00"))
			c.Write(pkt('R', "<b@example.net>\x00"))
			for range 15 {
				if headers {
					c.Write(pkt('L', "X-Pad\x00", field, "\x00"))
				} else {
					c.Write(pkt('B', chunk))
				}
			}
			cs = append(cs, c)
		}
		time.Sleep(time.Second)
		d.alive(t, "fifty held messages")
		rss := harness.PeakRSS(d.cmd.Process.Pid)
		for _, c := range cs {
			c.Close()
		}
		return rss
	}
	h, b := peak(true), peak(false)
	t.Logf("peak RSS, 50 messages of 15 header fields of 60 KiB: %.1f MiB; of 15 body chunks of 60 KiB: %.1f MiB (%.2fx)", h, b, h/b)
	if h > 1.2*b {
		t.Errorf("header-heavy %.0f MiB > 1.2x body-heavy %.0f MiB", h, b)
	}
}
