package wire

import (
	"net"
	"testing"
)

// packetConn is a connection that reads whole packets itself.
type packetConn struct {
	net.Conn
	code byte
	data []byte
}

func (c *packetConn) ReadPacket() (byte, []byte, error) { return c.code, c.data, nil }

// writeCounter counts the writes on a connection.
type writeCounter struct {
	net.Conn
	writes [][]byte
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

// fork: a PacketReader's packet is taken as it is, its data not copied.
func TestReadPacketIntoPacketReader(t *testing.T) {
	c := &packetConn{code: 'B', data: []byte("chunk")}
	var msg Message
	if err := ReadPacketInto(c, 0, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Code != 'B' || string(msg.Data) != "chunk" || &msg.Data[0] != &c.data[0] {
		t.Fatalf("got %c %q (copied: %v)", msg.Code, msg.Data, &msg.Data[0] != &c.data[0])
	}
}

// fork: a zero-length packet is an error, not an index out of range.
func TestReadPacketZeroLength(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go b.Write([]byte{0, 0, 0, 0})
	if _, err := ReadPacket(a, 0); err == nil {
		t.Fatal("a zero-length packet was read")
	}
}

// fork: a packet is one write, length, code and data together.
func TestWritePacketOneWrite(t *testing.T) {
	c := &writeCounter{}
	if err := WritePacket(c, &Message{Code: 'y', Data: []byte("550 5.7.1 no\x00")}, 0); err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 1 || string(c.writes[0]) != "\x00\x00\x00\x0ey550 5.7.1 no\x00" {
		t.Fatalf("writes: %q", c.writes)
	}
}

// fork: borrowed strings are data's bytes and read as DecodeCStrings'.
func TestDecodeCStringsBorrowed(t *testing.T) {
	for _, in := range []string{"", "\x00", "a\x00", "X-Pad\x00value\x00", "a\x00b", "a\x00\x00b\x00"} {
		got, want := DecodeCStringsBorrowed([]byte(in)), DecodeCStrings([]byte(in))
		if len(got) != len(want) {
			t.Fatalf("%q: %q, want %q", in, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%q: %q, want %q", in, got, want)
			}
		}
	}
}
