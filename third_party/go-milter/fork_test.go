package milter

import (
	"net"
	"testing"
	"time"

	"github.com/d--j/go-milter/internal/wire"
)

// writeCounter counts the writes on a connection.
type writeCounter struct {
	net.Conn
	writes [][]byte
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *writeCounter) Close() error                     { return nil }
func (c *writeCounter) SetWriteDeadline(time.Time) error { return nil }

// fork: the modifications at the end of a message wait for the reply and
// go out with it in one write; a progress report is written at once.
func TestModificationsWrittenWithTheReply(t *testing.T) {
	c := &writeCounter{}
	s := &serverSession{server: forkServer(), conn: c, version: MaxServerProtocolVersion, actions: OptAddHeader | OptChangeHeader, macros: newMacroStages()}
	s.modifier = newModifier(s, modifierStateReadWrite)
	if err := s.modifier.Progress(); err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 1 {
		t.Fatalf("progress: %d writes, want 1 at once", len(c.writes))
	}
	if err := s.modifier.AddHeader("X-Outguard", "clean"); err != nil {
		t.Fatal(err)
	}
	if err := s.modifier.ChangeHeader(1, "X-Account", ""); err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 1 {
		t.Fatalf("modifications written before the reply: %q", c.writes)
	}
	if err := s.writePacket(RespAccept.Response()); err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 2 {
		t.Fatalf("%d writes, want the modifications and the reply in one", len(c.writes))
	}
	var codes []wire.Code
	for b := c.writes[1]; len(b) > 0; {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		codes = append(codes, wire.Code(b[4]))
		b = b[4+n:]
	}
	if string(codes) != "hma" {
		t.Fatalf("packets %q, want h m a", codes)
	}
}

// fork: a replaced body does not wait whole in memory: past maxPending
// the modifications are written.
func TestPendingModificationsBounded(t *testing.T) {
	c := &writeCounter{}
	s := &serverSession{server: forkServer(), conn: c, version: MaxServerProtocolVersion, actions: OptChangeBody, macros: newMacroStages(), maxDataSize: DataSize64K}
	s.modifier = newModifier(s, modifierStateReadWrite)
	chunk := make([]byte, 60<<10)
	for range 4 {
		if err := s.modifier.ReplaceBodyRawChunk(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.writes) == 0 {
		t.Fatal("240 KiB of body replacement held back")
	}
	for _, w := range c.writes {
		if len(w) > maxPending+int(DataSize64K)+5 {
			t.Fatalf("a write of %d bytes", len(w))
		}
	}
}

// fork: the session's modifier in a state is made once.
func TestModifierStatesMadeOnce(t *testing.T) {
	s := &serverSession{server: forkServer(), version: MaxServerProtocolVersion, macros: newMacroStages()}
	s.modifier = newModifier(s, modifierStateReadOnly)
	a, b := s.modifier.withState(modifierStateProgressOnly), s.modifier.withState(modifierStateProgressOnly)
	if a != b || a.state != modifierStateProgressOnly || s.modifier.withState(modifierStateReadOnly) != s.modifier {
		t.Fatal("a modifier made again for the same state")
	}
}

// forkServer is a server for the sessions of these tests.
func forkServer() *Server {
	return NewServer(WithMilter(func() Milter { return &NoOpMilter{} }))
}
