package harness

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// MilterPostfix is a milter client that writes the bytes Postfix 3.7
// writes on a unix socket, prepared in advance: for measuring the milter
// alone, without an MTA's cost or a client library's in the profile.
type MilterPostfix struct {
	conn  net.Conn
	r     *bufio.Reader
	proto uint32 // the protocol bits negotiated (SMFIP_*)
}

// milterPacket appends one milter packet (length word, command, data).
func milterPacket(dst []byte, code byte, data ...string) []byte {
	n := 1
	for _, d := range data {
		n += len(d)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, code)
	for _, d := range data {
		dst = append(dst, d...)
	}
	return dst
}

// DialMilterPostfix connects to the milter at the unix socket and
// negotiates as Postfix 3.7 does: version 6, every action and protocol
// bit offered, so that the milter's own choice of unanswered stages holds.
func DialMilterPostfix(t T, socket string) *MilterPostfix {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatalf("milter: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &MilterPostfix{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	if _, err := conn.Write(milterPacket(nil, 'O', "\x00\x00\x00\x06", "\x00\x00\x01\xff", "\x00\x1f\xff\xff")); err != nil {
		t.Fatalf("milter: %v", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		t.Fatalf("milter negotiation: %v", err)
	}
	opt := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c.r, opt); err != nil || len(opt) < 13 || opt[0] != 'O' {
		t.Fatalf("milter negotiation: %q %v", opt, err)
	}
	c.proto = binary.BigEndian.Uint32(opt[9:13])
	// SMFIP_NR_HDR, SMFIP_NODATA, SMFIP_NR_BODY: the stages written
	// without waiting for an answer.
	if want := uint32(0x80 | 0x200 | 0x80000); c.proto&want != want {
		t.Fatalf("milter negotiated protocol %#x: answers headers, DATA or body chunks", c.proto)
	}
	return c
}

// MilterStages is one message as Postfix writes it to a milter that
// negotiated away the answers to header and body packets and the DATA
// stage (milterd on a unix socket), cut where Postfix waits for an
// answer: MAIL, RCPT, end of headers (when answered), end of message.
type MilterStages [][]byte

// Protocol is the protocol bits negotiated (SMFIP_*).
func (c *MilterPostfix) Protocol() uint32 { return c.proto }

// Quiet reports whether the milter writes nothing more within d: no
// answer to a stage that was negotiated unanswered, nothing after the
// final reply.
func (c *MilterPostfix) Quiet(d time.Duration) bool {
	c.conn.SetReadDeadline(time.Now().Add(d))
	defer c.conn.SetReadDeadline(time.Time{})
	_, err := c.r.Peek(1)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// Message prepares the packets of one message from user (SASL) and from
// to rcpt: the header fields (name, value with its leading space) and the
// body in Postfix's chunks of at most 65535 bytes.
func (c *MilterPostfix) Message(user, from, rcpt string, header [][2]string, body []byte) MilterStages {
	var mail, rcptS, eoh, eom []byte
	mail = milterPacket(mail, 'D', "M", "{auth_authen}\x00"+user+"\x00", "{auth_type}\x00PLAIN\x00", "{mail_addr}\x00"+from+"\x00")
	mail = milterPacket(mail, 'M', "<"+from+">\x00", fmt.Sprintf("SIZE=%d\x00", len(body)))
	rcptS = milterPacket(rcptS, 'D', "R", "{rcpt_mailer}\x00smtp\x00", "{rcpt_host}\x00remote.test\x00", "{rcpt_addr}\x00"+rcpt+"\x00")
	rcptS = milterPacket(rcptS, 'R', "<"+rcpt+">\x00")
	for _, h := range header {
		eoh = milterPacket(eoh, 'L', h[0]+"\x00", h[1]+"\x00")
	}
	eoh = milterPacket(eoh, 'D', "N", "i\x004XyZ1\x00")
	eoh = milterPacket(eoh, 'N')
	if c.proto&0x40000 != 0 { // SMFIP_NR_EOH: no answer to wait for
		eom, eoh = eoh, nil
	}
	for b := body; len(b) > 0; {
		n := min(len(b), 65535) // Postfix's MILTER_CHUNK_SIZE
		eom = milterPacket(eom, 'B', string(b[:n]))
		b = b[n:]
	}
	eom = milterPacket(eom, 'D', "E", "i\x004XyZ1\x00")
	eom = milterPacket(eom, 'E')
	if eoh == nil {
		return MilterStages{mail, rcptS, eom}
	}
	return MilterStages{mail, rcptS, eoh, eom}
}

// Send writes the message stage by stage, reading the milter's answer to
// each, and returns the final one's code ('a' accept, 'r' reject, 't'
// tempfail, 'd' discard, 'y' a reply code; modifications skipped). An
// answer other than continue before the end is returned as it is.
func (c *MilterPostfix) Send(t T, m MilterStages) byte {
	t.Helper()
	return c.SendSplit(t, m, -1, 0)
}

// SendSplit is Send with each stage written in two pieces, cut at byte at
// (clamped to the stage; < 0: whole) with pause between them: a packet
// the milter gets a piece at a time, as from a lossy network.
func (c *MilterPostfix) SendSplit(t T, m MilterStages, at int, pause time.Duration) byte {
	t.Helper()
	for i, stage := range m {
		if at >= 0 {
			k := min(at, len(stage))
			if _, err := c.conn.Write(stage[:k]); err != nil {
				t.Fatalf("milter: %v", err)
			}
			time.Sleep(pause)
			stage = stage[k:]
		}
		if _, err := c.conn.Write(stage); err != nil {
			t.Fatalf("milter: %v", err)
		}
		code, err := c.reply()
		for err == nil && (code == 'p' || i == len(m)-1 && code != 'a' && code != 'r' && code != 't' && code != 'd' && code != 'y') {
			code, err = c.reply() // progress, or a modification before the final answer
		}
		if err != nil {
			t.Fatalf("milter: %v", err)
		}
		if i == len(m)-1 || code != 'c' {
			return code
		}
	}
	return 0
}

// reply reads one packet from the milter and returns its command code.
func (c *MilterPostfix) reply() (byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > 1<<20 {
		return 0, fmt.Errorf("milter answered with a packet of %d bytes", n)
	}
	code, err := c.r.ReadByte()
	if err != nil {
		return 0, err
	}
	_, err = c.r.Discard(int(n) - 1)
	return code, err
}
