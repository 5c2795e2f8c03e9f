package clamd

import (
	"strings"
	"testing"
	"time"
)

// TestReviewReplyBound: a peer that sends bytes without the NUL that ends
// a reply is refused at maxReply, not read (and held in memory) until the
// reply timeout; a reply of maxReply bytes with its NUL is still read.
func TestReviewReplyBound(t *testing.T) {
	cn, server := pipeConn(t)
	cn.SetDeadline(time.Now().Add(20 * time.Second))
	full := strings.Repeat("A", maxReply-1)
	go func() {
		server.Write([]byte(full + "\x00"))
		chunk := []byte(strings.Repeat("B", 4096))
		for {
			if _, err := server.Write(chunk); err != nil {
				return
			}
		}
	}()
	if got, err := readReply(cn); err != nil || got != full {
		t.Fatalf("a reply of %d bytes: %d bytes, %v", len(full)+1, len(got), err)
	}
	_, err := readReply(cn)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("endless reply: %v, want refused at %d bytes", err, maxReply)
	}
	if cap(cn.reply) > 0 {
		t.Errorf("the connection kept a %d-byte buffer", cap(cn.reply))
	}
}
