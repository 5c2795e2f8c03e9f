package main

// Independent review of issue #33 (hostile client): packet edge cases the
// builder's battery does not send, against the real binary. Each case
// must leave milterd up and serving the next well-formed session.

import (
	be "encoding/binary"
	"io"
	"strings"
	"testing"
	"time"
)

func TestReviewEdgePackets(t *testing.T) {
	d, _ := hostile(t, "", "")
	conn := pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00")
	mail := pkt('M', "<a@example.net>\x00")
	rcpt := pkt('R', "<b@example.net>\x00")
	join := func(ps ...[]byte) []byte {
		var b []byte
		for _, p := range ps {
			b = append(b, p...)
		}
		return b
	}
	optWith := func(version, actions, proto uint32) []byte {
		var b []byte
		b = be.BigEndian.AppendUint32(b, version)
		b = be.BigEndian.AppendUint32(b, actions)
		b = be.BigEndian.AppendUint32(b, proto)
		return pkt('O', string(b))
	}
	cases := []struct {
		name       string
		negotiated bool
		send       []byte
	}{
		{"OPTNEG version 0", false, optWith(0, 0x1ff, 0x1fffff)},
		{"OPTNEG version 1", false, optWith(1, 0x1ff, 0x1fffff)},
		{"OPTNEG version 7", false, optWith(7, 0x1ff, 0x1fffff)},
		{"OPTNEG version 0xffffffff", false, optWith(0xffffffff, 0xffffffff, 0xffffffff)},
		{"OPTNEG no actions no protocol", false, optWith(6, 0, 0)},
		{"OPTNEG every protocol bit (no headers, no body, 1M chunks)", false, join(optWith(6, 0x1ff, 0xffffffff), conn, mail, rcpt, pkt('L', "Subject\x00", "x\x00"), pkt('N'), pkt('B', "body"), pkt('E'))},
		{"OPTNEG 13 bytes", false, pkt('O', "\x00\x00\x00\x06\x00\x00\x01\xff\x00\x1f\xff\xff\x00")},
		{"length below 1 after CONNECT", true, join(conn, []byte{0, 0, 0, 0})},
		{"length 0xffffffff after negotiation", true, []byte{0xff, 0xff, 0xff, 0xff, 'B'}},
		{"CONNECT family U", true, join(pkt('C', "h\x00", "U"), mail, rcpt, pkt('E'))},
		{"CONNECT family U with address", true, pkt('C', "h\x00", "U", "\x00\x19", "x\x00")},
		{"CONNECT family L", true, join(pkt('C', "h\x00", "L", "\x00\x00", "/tmp/x\x00"), mail)},
		{"CONNECT family 6 bad address", true, pkt('C', "h\x00", "6", "\x00\x19", "not-an-address\x00")},
		{"CONNECT family 4 empty address", true, pkt('C', "h\x00", "4", "\x00\x19", "\x00")},
		{"CONNECT family 4 two NULs after address", true, pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00x\x00")},
		{"CONNECT NULs inside, none at the end", true, pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1")},
		{"CONNECT NUL in port", true, pkt('C', "h\x00", "4", "\x00\x00", "\x00")},
		{"HELO NULs inside, none at the end", true, pkt('H', "a\x00b")},
		{"HELO two strings", true, pkt('H', "a\x00b\x00")},
		{"MAIL NULs inside, none at the end", true, join(conn, pkt('M', "a\x00b"))},
		{"MAIL only NUL", true, join(conn, pkt('M', "\x00"), rcpt, pkt('E'))},
		{"RCPT NULs inside, none at the end", true, join(conn, mail, pkt('R', "a\x00b"))},
		{"RCPT only NUL", true, join(conn, mail, pkt('R', "\x00"), pkt('E'))},
		{"HEADER one string", true, join(conn, mail, rcpt, pkt('L', "a\x00"))},
		{"HEADER three strings", true, join(conn, mail, rcpt, pkt('L', "a\x00b\x00c\x00"))},
		{"HEADER two empty strings", true, join(conn, mail, rcpt, pkt('L', "\x00\x00"), pkt('N'), pkt('E'))},
		{"HEADER NULs inside, none at the end", true, join(conn, mail, rcpt, pkt('L', "a\x00b"))},
		{"UNKNOWN NULs inside, none at the end", true, pkt('U', "a\x00b")},
		{"UNKNOWN two strings", true, pkt('U', "a\x00b\x00")},
		{"MACRO command only", true, join(pkt('D', "C"), conn)},
		{"MACRO odd count", true, pkt('D', "C", "j\x00v\x00k\x00")},
		{"MACRO NULs inside, none at the end", true, pkt('D', "C", "j\x00v")},
		{"MACRO for an unknown command", true, join(pkt('D', "Z", "j\x00v\x00"), conn)},
		{"MACRO for MACRO", true, join(pkt('D', "D", "j\x00v\x00"), conn)},
		{"MACRO huge value", true, join(pkt('D', "C", "{client_name}\x00", strings.Repeat("v", 200<<10), "\x00"), conn, mail, rcpt, pkt('E'))},
		{"second OPTNEG mid-session", true, join(conn, mail, optneg)},
		{"BODY before MAIL", true, join(conn, pkt('B', "body"), pkt('E'))},
		{"EOB without MAIL", true, join(conn, pkt('E'), pkt('E'))},
		{"RCPT before MAIL", true, join(conn, rcpt, rcpt, pkt('E'))},
		{"EOB without EOH", true, join(conn, mail, rcpt, pkt('L', "Subject\x00", "x\x00"), pkt('B', "body"), pkt('E'))},
		{"HEADER after EOH", true, join(conn, mail, rcpt, pkt('N'), pkt('L', "Subject\x00", "x\x00"), pkt('B', "body"), pkt('E'))},
		{"ABORT then reuse", true, join(conn, mail, rcpt, pkt('A'), pkt('A'), pkt('B', "x"), pkt('E'), mail, rcpt, pkt('N'), pkt('E'))},
		{"QUIT_NC then a new session", true, join(conn, mail, rcpt, pkt('B', "x"), pkt('K'), conn, mail, rcpt, pkt('N'), pkt('E'))},
		{"QUIT_NC then OPTNEG with other options", true, join(conn, mail, pkt('K'), optWith(2, 0, 0), conn)},
		{"DATA with data", true, join(conn, mail, rcpt, pkt('T', "x"))},
		{"every command of one byte", true, join(pkt('D'), pkt('C'), pkt('Q'))},
	}
	for _, code := range "ODCQHMRLNBEATKU" {
		cases = append(cases, struct {
			name       string
			negotiated bool
			send       []byte
		}{"one byte " + string(code), true, join(conn, mail, rcpt, pkt(byte(code)))})
	}
	for _, tc := range cases {
		c := dial(t, d.socket, tc.negotiated)
		c.Write(tc.send)
		// Whatever milterd answers, read it for a moment, then go.
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		io.Copy(io.Discard, c)
		c.Close()
		d.alive(t, tc.name)
	}
	// The same well-formed session split byte by byte, with pauses.
	c := dial(t, d.socket, false)
	for _, b := range join(optneg, conn, mail) {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatalf("byte-by-byte: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := readPacket(c, 5*time.Second); err != nil {
		t.Fatalf("byte-by-byte negotiation: %v", err)
	}
	if err := readPacket(c, 5*time.Second); err != nil {
		t.Fatalf("byte-by-byte MAIL: %v", err)
	}
	d.alive(t, "byte by byte")
	if strings.Contains(d.log.String(), "panic") {
		t.Errorf("a panic was recovered:\n%s", tail(d.log.String()))
	}
}
