// Package wire includes constants and functions for the raw libmilter protocol
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

//go:generate go tool stringer -type=Code,ActionCode,ModifyActCode -output=wire_string.go

type Code byte

// Message represents a command sent from milter client
type Message struct {
	Code Code
	Data []byte
}

// MacroCode returns the Code this CodeMacro message is about.
// If the message is not a CodeMacro message, it returns the Code itself.
func (m *Message) MacroCode() Code {
	if m.Code == CodeMacro && len(m.Data) > 0 {
		return Code(m.Data[0])
	}
	return m.Code
}

type ActionCode byte

const (
	ActAccept    ActionCode = 'a' // SMFIR_ACCEPT
	ActContinue  ActionCode = 'c' // SMFIR_CONTINUE
	ActDiscard   ActionCode = 'd' // SMFIR_DISCARD
	ActReject    ActionCode = 'r' // SMFIR_REJECT
	ActTempFail  ActionCode = 't' // SMFIR_TEMPFAIL
	ActReplyCode ActionCode = 'y' // SMFIR_REPLYCODE
	ActSkip      ActionCode = 's' // SMFIR_SKIP [v6]
	ActProgress  ActionCode = 'p' // SMFIR_PROGRESS [v6]
)

type ModifyActCode byte

const (
	ActAddRcpt      ModifyActCode = '+' // SMFIR_ADDRCPT
	ActDelRcpt      ModifyActCode = '-' // SMFIR_DELRCPT
	ActReplBody     ModifyActCode = 'b' // SMFIR_ACCEPT
	ActAddHeader    ModifyActCode = 'h' // SMFIR_ADDHEADER
	ActChangeHeader ModifyActCode = 'm' // SMFIR_CHGHEADER
	ActInsertHeader ModifyActCode = 'i' // SMFIR_INSHEADER
	ActQuarantine   ModifyActCode = 'q' // SMFIR_QUARANTINE
	ActChangeFrom   ModifyActCode = 'e' // SMFIR_CHGFROM [v6]
	ActAddRcptPar   ModifyActCode = '2' // SMFIR_ADDRCPT_PAR [v6]
)

const (
	CodeOptNeg      Code = 'O' // SMFIC_OPTNEG
	CodeMacro       Code = 'D' // SMFIC_MACRO
	CodeConn        Code = 'C' // SMFIC_CONNECT
	CodeQuit        Code = 'Q' // SMFIC_QUIT
	CodeHelo        Code = 'H' // SMFIC_HELO
	CodeMail        Code = 'M' // SMFIC_MAIL
	CodeRcpt        Code = 'R' // SMFIC_RCPT
	CodeHeader      Code = 'L' // SMFIC_HEADER
	CodeEOH         Code = 'N' // SMFIC_EOH
	CodeBody        Code = 'B' // SMFIC_BODY
	CodeEOB         Code = 'E' // SMFIC_BODYEOB
	CodeAbort       Code = 'A' // SMFIC_ABORT
	CodeData        Code = 'T' // SMFIC_DATA
	CodeQuitNewConn Code = 'K' // SMFIC_QUIT_NC [v6]
	CodeUnknown     Code = 'U' // SMFIC_UNKNOWN [v6]
)

// We reject reading/writing messages larger than 512 MB outright.
const maxPacketSize = 512 * 1024 * 1024

// PacketReader is a connection that reads whole packets itself (fork:
// outguard's wire guard, which has already checked each one against its
// command's grammar). data is the packet without its length word and
// command code; it stays valid only until the next ReadPacket: the reader
// reuses its buffer, so no packet costs a fresh allocation or a second
// copy.
type PacketReader interface {
	ReadPacket() (code byte, data []byte, err error)
}

func ReadPacket(conn net.Conn, timeout time.Duration) (*Message, error) {
	msg := &Message{}
	if err := ReadPacketInto(conn, timeout, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// ReadPacketInto reads the next packet into msg. From a PacketReader,
// msg.Data is the reader's buffer, valid until the next read.
func ReadPacketInto(conn net.Conn, timeout time.Duration, msg *Message) error {
	if timeout != 0 {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		defer func(conn net.Conn) {
			_ = conn.SetReadDeadline(time.Time{})
		}(conn)
	}
	if pr, ok := conn.(PacketReader); ok {
		code, data, err := pr.ReadPacket()
		if err != nil {
			return err
		}
		msg.Code, msg.Data = Code(code), data
		return nil
	}

	// read packet length
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return err
	}
	length := binary.BigEndian.Uint32(hdr[:])

	if length > maxPacketSize {
		return fmt.Errorf("milter: reject to read %d bytes in one message", length)
	}
	if length == 0 {
		return errors.New("milter: packet without a command code")
	}

	// read packet data
	data := make([]byte, length)
	if _, err := io.ReadFull(conn, data); err != nil {
		return err
	}
	msg.Code, msg.Data = Code(data[0]), data[1:]
	return nil
}

// AppendPacket appends msg as it goes on the wire (length, code, data) to
// dst.
func AppendPacket(dst []byte, msg *Message) ([]byte, error) {
	if msg == nil {
		return dst, errors.New("msg nil pointer")
	}
	length := len(msg.Data) + 1
	if length > maxPacketSize {
		return dst, fmt.Errorf("milter: cannot write %d bytes in one message", length)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(length))
	dst = append(dst, byte(msg.Code))
	return append(dst, msg.Data...), nil
}

// WritePacket writes msg in one write: a packet split over two writes
// costs a second system call, and over TCP without TCP_NODELAY a
// delayed-ACK stall.
func WritePacket(conn net.Conn, msg *Message, timeout time.Duration) error {
	buf, err := AppendPacket(nil, msg)
	if err != nil {
		return err
	}
	return Write(conn, buf, timeout)
}

// Write writes buf, whole packets, within timeout (0: none).
func Write(conn net.Conn, buf []byte, timeout time.Duration) error {
	if timeout != 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(timeout))
		defer func(conn net.Conn) {
			_ = conn.SetWriteDeadline(time.Time{})
		}(conn)
	}
	_, err := conn.Write(buf)
	return err
}

// AppendUint16 appends the big endian encoding of val to dest. It returns the new dest like append does.
func AppendUint16(dest []byte, val uint16) []byte {
	return append(dest, byte(val>>8), byte(val))
}
