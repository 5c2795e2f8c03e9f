package clamd

import (
	"net"
	"strings"
	"testing"
)

// TestReadReplyPieces: a reply is read to its NUL however clamd's writes
// cut it (a byte at a time, a reply longer than any buffer so far), the
// buffer kept for the next reply does not leak into it, and a connection
// closed before the NUL is an error, not a short reply.
func TestReadReplyPieces(t *testing.T) {
	cn, server := pipeConn(t)
	long := "stream: " + strings.Repeat("Win.Test.Long-", 40) + " FOUND"
	replies := []string{"1: stream: OK", long, "3: fd[12]: OK"}
	go func() {
		for i, r := range replies {
			if i == 1 { // a byte at a time
				for j := range len(r) {
					server.Write([]byte{r[j]})
				}
				server.Write([]byte{0})
				continue
			}
			server.Write([]byte(r + "\x00"))
		}
		server.Write([]byte("4: stream: cut sh"))
		server.Close()
	}()
	for _, want := range replies {
		if got, err := readReply(cn); err != nil || got != want {
			t.Fatalf("reply %q %v, want %q", got, err, want)
		}
	}
	if got, err := readReply(cn); err == nil {
		t.Fatalf("reply %q cut by the connection's end, want an error", got)
	}
}

// pipeConn is a clamd connection whose other end the test writes.
func pipeConn(t *testing.T) (*conn, net.Conn) {
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	return &conn{Conn: client, b: &backend{addr: Addr{Network: "unix", Address: "test"}}}, server
}
