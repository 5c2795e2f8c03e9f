package main

// Independent review of issue #33 (spool.max_total accounting), against
// the real binary on a small tmpfs.

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"
)

// rawMessage sends a message of n body bytes on a negotiated connection,
// all but its end.
func rawMessage(c net.Conn, n int) {
	c.Write(pkt('M', "<a@example.net>\x00"))
	c.Write(pkt('R', "<b@example.net>\x00"))
	c.Write(pkt('L', "Subject\x00", " budget\x00"))
	c.Write(pkt('N'))
	chunk := strings.Repeat("0123456789abcde\n", 4095)
	for sent := 0; sent < n; sent += len(chunk) {
		c.Write(pkt('B', chunk))
	}
}

// Every way a message can end without being accepted gives its bytes back
// to spool.max_total: after an abort, a connection dropped mid-body, a
// tempfail past the budget, a new MAIL without an abort, and QUIT_NC, a
// message of nearly the whole budget is accepted.
func TestReviewBudgetReturns(t *testing.T) {
	tmpfs := mountTmpfs(t, "8m")
	d, _ := hostile(t, fmt.Sprintf("spool: {dir: %s, memory_limit: 64KiB, max_total: 3MiB}\n", tmpfs), "")
	conn := pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00")
	open := func() net.Conn {
		c := dial(t, d.socket, true)
		drain(c)
		c.Write(conn)
		return c
	}
	// Abort mid-body, then the connection stays.
	a := open()
	rawMessage(a, 2<<20)
	a.Write(pkt('A'))
	// Dropped mid-body.
	b := open()
	rawMessage(b, 1<<20)
	time.Sleep(200 * time.Millisecond)
	b.Close()
	// A second MAIL without an abort, then QUIT_NC, then QUIT.
	c := open()
	rawMessage(c, 1<<20)
	rawMessage(c, 1<<20)
	c.Write(pkt('K'))
	c.Write(pkt('Q'))
	// Past the budget: tempfailed (the others hold some of it now).
	e := open()
	rawMessage(e, 4<<20)
	e.Write(pkt('E'))
	time.Sleep(time.Second)
	a.Write(pkt('Q'))
	e.Write(pkt('Q'))
	time.Sleep(500 * time.Millisecond)

	s := bodySession(t, d.socket, 3<<20-128<<10)
	if _, act, err := s.End(); err != nil || act.Type != gomilter.ActionAccept {
		t.Errorf("a message of nearly max_total once the others are gone: %v %+v\n%s", err, act, tail(d.log.String()))
	}
	s.Close()
	time.Sleep(200 * time.Millisecond)
	var st syscall.Statfs_t
	syscall.Statfs(tmpfs, &st)
	if used := (st.Blocks - st.Bfree) * uint64(st.Bsize); used > 0 {
		t.Errorf("%d bytes left on the spool tmpfs", used)
	}
	d.alive(t, "the budget cases")
}
