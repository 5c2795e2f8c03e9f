package milter

// The wire guard: every byte the MTA sends passes through here before
// go-milter sees it.
//
// Decision (issue #33): go-milter v0.10.2 indexes packets without checking
// their length (internal/wire/wire.go: a zero-length packet; session.go: a
// CONNECT without a NUL or family, a MAIL or RCPT without a NUL) and reads
// packets of up to 512 MiB; a panic there is in the library's connection
// goroutine, which no recover of ours can reach, and kills milterd. Rather
// than fork the library (a module of its own to carry, with its licence,
// rebased on every upstream release), milterd validates under it: the
// listener hands go-milter connections whose Read delivers only whole
// packets that passed the grammar of their command (the milter protocol is
// small: libmilter's engine.c and Postfix's milter8.c are the reference),
// so the library's unchecked indexing never meets a packet it could
// misread. A packet that fails is logged, counted, and its connection
// closed; the MTA applies milter_default_action to that SMTP session only.
// The same layer sets the deadlines (negotiation and each packet once
// begun: read_timeout; between packets: idle_timeout), caps the
// connections at once, and keeps accepting through EMFILE and its kin.
// The library still parses the packets it gets; that is safe because
// every index it takes is within what the grammar here guarantees.
//
// Issue #32 forked the library after all (third_party/go-milter, a
// replace directive), for its packet path only: it takes each packet whole
// from the guard's buffer (ReadPacket) instead of reading it again through
// Read with a fresh buffer, and writes a reply, with the modifications
// before it, in one write(2). The validation stays here, under it.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Packet bounds. go-milter pins the body chunk to 64 KiB (negotiate does
// not offer SMFIP_MDS_256K/1M): Postfix sends at most 65535 bytes a chunk
// (MILTER_CHUNK_SIZE), Sendmail 65536. A header field is one packet, up to
// Postfix's header_size_limit (default 102400) or Sendmail's
// MaxHeadersLength (default 32768): maxPacket leaves room for the first
// with margin. Anything larger is not an MTA talking.
//
// The other commands carry an SMTP command's argument or macros: Postfix
// and Sendmail write at most a command line (Postfix line_length_limit,
// Sendmail MAXLINE: 2048 by default) and the short macros asked for. Their
// data is kept: go-milter holds the last MACRO packet of each of its eight
// stages for the connection's life, and the session keeps the CONNECT host
// and HELO name, so a 256 KiB bound there let an idle client hold ~2 MiB
// (TestReviewMacroRetention). maxLinePacket leaves 8x the MTAs' line.
const (
	maxBodyChunk  = 65536
	maxPacket     = 256 << 10
	maxLinePacket = 16 << 10
)

// ConnEvent names what the wire guard counts (Observer.ConnEvent).
const (
	EventOverCap     = "over_cap"     // closed at accept: max_connections reached
	EventMalformed   = "malformed"    // a packet broke its command's grammar
	EventReadTimeout = "read_timeout" // negotiation or a begun packet took longer than read_timeout
	EventIdleTimeout = "idle_timeout" // no packet for idle_timeout
	EventPanic       = "panic"        // a panic in milterd's code for the connection, recovered
	EventAcceptError = "accept_error" // accept failed (EMFILE, ENFILE, ECONNABORTED...): retried
)

// errGuard wraps net.ErrClosed so that go-milter, which logs every read
// error but a closed connection, leaves the logging to the guard: one
// line per closed connection, with the reason.
type errGuard struct{ reason string }

func (e *errGuard) Error() string { return "milter connection closed: " + e.reason }
func (e *errGuard) Unwrap() error { return net.ErrClosed }

// guardListener accepts MTA connections for go-milter: it retries failed
// accepts with backoff (go-milter's Serve returns on any accept error, and
// milterd with it), closes connections beyond max_connections at once, and
// wraps each connection in a guardConn.
type guardListener struct {
	net.Listener
	srv    *Server
	active atomic.Int64
	freed  chan struct{} // a place under the cap came free (buffered: 1)
}

// capWait is how long a connection past max_connections waits for a place
// before it is closed. A connection gives its place back only once its
// goroutine sees the end, a moment after the peer has gone: without the
// wait, a storm of connections reset before their accept filled the cap
// with the dead, and the MTA's sessions in between were refused (9 of 40,
// TestReviewCapStorm), as was a client reconnecting at once after closing
// (TestReviewCapCountsResets). It is short: at a cap held by live
// connections, the accept loop waits this long for each one it closes.
const capWait = 100 * time.Millisecond

// place takes a place under max (0: no cap) for a new connection, waiting
// up to capWait for one to come free.
func (l *guardListener) place(max int) bool {
	var timeout <-chan time.Time
	for {
		if n := l.active.Add(1); max <= 0 || n <= int64(max) {
			return true
		}
		l.active.Add(-1)
		if timeout == nil {
			t := time.NewTimer(capWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-l.freed:
		case <-timeout:
			return false
		}
	}
}

// Accept returns the next connection within the cap. It returns an error
// only when the listener is closed.
func (l *guardListener) Accept() (net.Conn, error) {
	backoff := time.Duration(0)
	failures := 0
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// EMFILE/ENFILE free up as sessions end; ECONNABORTED is the
			// client's; anything else is retried too, slowly, so that
			// milterd stays up and says so rather than exits.
			failures++
			l.srv.event(EventAcceptError)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if failures == 1 || backoff == time.Second && failures%60 == 0 {
				l.srv.log.Error("milter accept failed; retrying", "err", err, "failures", failures, "retry_in", backoff)
			}
			time.Sleep(backoff)
			continue
		}
		if failures > 0 {
			l.srv.log.Warn("milter accept recovered", "failures", failures)
			failures, backoff = 0, 0
		}
		st := l.srv.state.Load()
		if !l.place(st.MaxConnections) {
			c.Close()
			l.srv.event(EventOverCap)
			l.srv.overCapLog(st.MaxConnections)
			continue
		}
		return &guardConn{Conn: c, l: l, r: bufio.NewReaderSize(c, 16<<10), readTimeout: st.ReadTimeout, idleTimeout: st.IdleTimeout}, nil
	}
}

// guardConn delivers to go-milter only whole packets that passed their
// command's grammar, each within its deadlines.
type guardConn struct {
	net.Conn
	l *guardListener
	// r buffers the MTA's stream: go-milter reads a packet as its length,
	// then its data, and the MTA sends the stages it wants no answer to
	// back to back.
	r                        *bufio.Reader
	readTimeout, idleTimeout time.Duration

	negotiated bool   // the first packet (SMFIC_OPTNEG) passed
	pkt        []byte // the current packet, length word included
	err        error  // the connection is done: returned from now on
	closed     atomic.Bool
}

// ReadPacket gives go-milter (our fork's wire.PacketReader, issue #32) the
// next validated packet: its command code and data, in the guard's buffer,
// valid until the next ReadPacket. Before, go-milter read each packet
// again through Read: its length word through encoding/binary, then a
// fresh buffer for its data, a second copy of every byte.
func (c *guardConn) ReadPacket() (byte, []byte, error) {
	if c.err != nil {
		return 0, nil, c.err
	}
	if err := c.next(); err != nil {
		c.err = err
		return 0, nil, err
	}
	return c.pkt[4], c.pkt[5:], nil
}

// Read is refused: the embedded net.Conn's would bypass the guard, and
// go-milter (our fork) takes whole packets through ReadPacket.
func (c *guardConn) Read([]byte) (int, error) {
	return 0, errors.New("milter: the wire guard gives whole packets only (ReadPacket)")
}

// SetReadDeadline is the guard's alone: go-milter's own (one second for
// the negotiation, none after) would undo read_timeout and idle_timeout.
func (c *guardConn) SetReadDeadline(time.Time) error { return nil }

// Close closes the connection and frees its place under the cap.
func (c *guardConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.active.Add(-1)
		select {
		case c.l.freed <- struct{}{}:
		default:
		}
	}
	return c.Conn.Close()
}

// next reads and checks one packet. A packet must begin within
// idle_timeout (read_timeout before the negotiation) and, once begun, be
// complete within read_timeout.
func (c *guardConn) next() error {
	if cap(c.pkt) > 2*maxBodyChunk {
		c.pkt = nil // a large header field: do not keep its buffer while idle
	}
	c.pkt = c.pkt[:0]
	first := c.readTimeout
	if c.negotiated {
		first = c.idleTimeout
	}
	if c.r.Buffered() == 0 {
		c.deadline(first)
		if _, err := c.r.Peek(1); err != nil {
			return c.fail(err, !c.negotiated)
		}
	}
	// One deadline for the whole packet, from its first byte: set afresh
	// for each piece, it let a packet take read_timeout per 64 KiB
	// (TestReviewPacketDripsPastReadTimeout).
	var end time.Time
	if c.readTimeout > 0 {
		end = time.Now().Add(c.readTimeout)
	}
	set := false
	wait := func(need int) {
		if !set && c.r.Buffered() < need {
			c.Conn.SetReadDeadline(end)
			set = true
		}
	}
	// The length word is peeked, not read into an array: an array handed
	// to io.ReadFull escapes, an allocation a packet.
	wait(4)
	hdr, err := c.r.Peek(4)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF // as io.ReadFull said
		}
		return c.fail(err, true)
	}
	n := binary.BigEndian.Uint32(hdr)
	if n == 0 {
		return c.malformed("zero-length packet")
	}
	if n > maxPacket {
		return c.malformed(fmt.Sprintf("packet of %d bytes (at most %d)", n, maxPacket))
	}
	// Grow with what arrives: a length word alone reserves no memory.
	c.pkt = append(c.pkt, hdr...)
	c.r.Discard(4)
	for need := int(n); need > 0; {
		wait(need)
		chunk := min(need, 64<<10)
		start := len(c.pkt)
		c.pkt = append(c.pkt, make([]byte, chunk)...)
		if _, err := io.ReadFull(c.r, c.pkt[start:]); err != nil {
			return c.fail(err, true)
		}
		need -= chunk
	}
	if err := checkPacket(c.pkt[4], c.pkt[5:], c.negotiated); err != nil {
		return c.malformed(err.Error())
	}
	c.negotiated = true
	return nil
}

// deadline sets the read deadline d from now; 0: none.
func (c *guardConn) deadline(d time.Duration) {
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	c.Conn.SetReadDeadline(t)
}

// fail turns a read error into the connection's end: a timeout is logged
// and counted (midPacket: read_timeout, else idle_timeout); EOF and the
// like are the MTA closing, passed on as they are.
func (c *guardConn) fail(err error, midPacket bool) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		c.l.srv.log.Debug("the MTA closed the milter connection inside a packet", "remote", remote(c.Conn))
		return &errGuard{"closed by the MTA inside a packet"}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	ev, d := EventIdleTimeout, c.idleTimeout
	if midPacket {
		ev, d = EventReadTimeout, c.readTimeout
	}
	c.l.srv.event(ev)
	c.l.srv.log.Warn("milter connection timed out; closing it", "remote", remote(c.Conn), "event", ev, "timeout", d)
	c.Conn.Close()
	return &errGuard{ev}
}

func (c *guardConn) malformed(reason string) error {
	c.l.srv.event(EventMalformed)
	code := byte(0)
	if len(c.pkt) > 4 {
		code = c.pkt[4]
	}
	c.l.srv.log.Warn("malformed milter packet; closing the connection", "remote", remote(c.Conn), "command", commandName(code), "reason", reason)
	c.Conn.Close()
	return &errGuard{"malformed packet: " + reason}
}

func remote(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return c.LocalAddr().String() // a unix socket's peer has no name
}

// Milter commands (libmilter's mfdef.h, SMFIC_*).
const (
	cmdOptNeg    = 'O'
	cmdMacro     = 'D'
	cmdConnect   = 'C'
	cmdQuit      = 'Q'
	cmdHelo      = 'H'
	cmdMail      = 'M'
	cmdRcpt      = 'R'
	cmdHeader    = 'L'
	cmdEOH       = 'N'
	cmdBody      = 'B'
	cmdBodyEOB   = 'E'
	cmdAbort     = 'A'
	cmdData      = 'T'
	cmdQuitNC    = 'K'
	cmdUnknown   = 'U'
	optNegLength = 12 // version, actions, protocol: three 32-bit words
)

// commandNames is a package variable: checkPacket names every MAIL and
// RCPT it checks, and a map literal in commandName was built on each call
// (six maps a message, issue #32).
var commandNames = map[byte]string{cmdOptNeg: "OPTNEG", cmdMacro: "MACRO", cmdConnect: "CONNECT", cmdQuit: "QUIT", cmdHelo: "HELO",
	cmdMail: "MAIL", cmdRcpt: "RCPT", cmdHeader: "HEADER", cmdEOH: "EOH", cmdBody: "BODY", cmdBodyEOB: "BODYEOB", cmdAbort: "ABORT",
	cmdData: "DATA", cmdQuitNC: "QUIT_NC", cmdUnknown: "UNKNOWN"}

func commandName(code byte) string {
	if name, ok := commandNames[code]; ok {
		return name
	}
	return fmt.Sprintf("%q", code)
}

// checkPacket checks a packet (command code and data) against its
// command's grammar, as the MTAs write it (libmilter engine.c, Postfix
// milter8.c): strings are NUL-terminated, commands without arguments
// carry none (go-milter would drop data sent with SMFIC_BODYEOB, so
// accepting it would leave bytes unscanned).
func checkPacket(code byte, data []byte, negotiated bool) error {
	if !negotiated {
		if code != cmdOptNeg {
			return fmt.Errorf("%s before the negotiation", commandName(code))
		}
		if len(data) != optNegLength {
			return fmt.Errorf("OPTNEG of %d bytes, want %d", len(data), optNegLength)
		}
		return nil
	}
	switch code {
	case cmdMacro, cmdConnect, cmdHelo, cmdMail, cmdRcpt, cmdUnknown:
		if len(data) > maxLinePacket {
			return fmt.Errorf("%s of %d bytes (at most %d)", commandName(code), len(data), maxLinePacket)
		}
	}
	switch code {
	case cmdOptNeg:
		return errors.New("a second OPTNEG")
	case cmdConnect:
		// hostname NUL, family, and for unix/inet/inet6 port and address NUL.
		host := bytes.IndexByte(data, 0)
		if host < 0 {
			return errors.New("CONNECT without a NUL after the host name")
		}
		rest := data[host+1:]
		if len(rest) == 0 {
			return errors.New("CONNECT without a protocol family")
		}
		switch rest[0] {
		case 'U': // SMFIA_UNKNOWN: nothing follows
			if len(rest) != 1 {
				return errors.New("CONNECT of unknown family with an address")
			}
			return nil
		case 'L', '4', '6':
			if len(rest) < 4 {
				return errors.New("CONNECT without port and address")
			}
			return cstrings(rest[3:], 1, 1, "CONNECT address")
		}
		return fmt.Errorf("CONNECT of unknown protocol family %q", rest[0])
	case cmdHelo:
		return cstrings(data, 1, 1, "HELO")
	case cmdMail, cmdRcpt:
		// the address, then each ESMTP argument
		return cstrings(data, 1, -1, commandName(code))
	case cmdHeader:
		return cstrings(data, 2, 2, "HEADER")
	case cmdMacro:
		// the command they are for, then name and value pairs
		if len(data) == 0 {
			return errors.New("MACRO without a command")
		}
		if len(data) == 1 {
			return nil
		}
		if err := cstrings(data[1:], 2, -1, "MACRO"); err != nil {
			return err
		}
		if bytes.Count(data[1:], []byte{0})%2 != 0 {
			return errors.New("MACRO with a name without a value")
		}
		return nil
	case cmdUnknown:
		return cstrings(data, 1, 1, "UNKNOWN")
	case cmdBody:
		if len(data) > maxBodyChunk {
			return fmt.Errorf("BODY chunk of %d bytes (at most %d)", len(data), maxBodyChunk)
		}
		return nil
	case cmdEOH, cmdBodyEOB, cmdAbort, cmdData, cmdQuit, cmdQuitNC:
		if len(data) != 0 {
			return fmt.Errorf("%s with %d bytes of data", commandName(code), len(data))
		}
		return nil
	}
	return fmt.Errorf("unknown command %s", commandName(code))
}

// cstrings checks that data is NUL-terminated strings, between least and
// most of them (most < 0: no bound).
func cstrings(data []byte, least, most int, what string) error {
	if len(data) == 0 || data[len(data)-1] != 0 {
		return errors.New(what + " not NUL-terminated")
	}
	n := bytes.Count(data, []byte{0})
	if n < least || most >= 0 && n > most {
		return fmt.Errorf("%s with %d strings", what, n)
	}
	return nil
}

// overCapLog logs the first connection closed at the cap, then at most one
// line a minute saying how many.
type overCap struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

func (s *Server) overCapLog(max int) {
	o := &s.overCap
	o.mu.Lock()
	defer o.mu.Unlock()
	o.count++
	if time.Since(o.last) < time.Minute {
		return
	}
	s.log.Warn("milter connections at max_connections; closing new ones (the MTA applies milter_default_action)", "max_connections", max, "closed", o.count)
	o.last, o.count = time.Now(), 0
}

// panicked logs and counts a recovered panic.
func (s *Server) panicked(r any, stack []byte) {
	s.event(EventPanic)
	s.log.Error("panic in a milter connection, recovered; closing that connection", "panic", fmt.Sprint(r), "stack", string(stack))
}

// event counts a wire guard event.
func (s *Server) event(ev string) {
	if o := s.state.Load().Observer; o != nil {
		o.ConnEvent(ev)
	}
}
