package harness

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestReviewFinalFixedClaimOutlivesBusyDaemon (review final, claim 3): as
// TestReviewRound2FixedClaimOutlivesDaemon, but with clients mid-session
// (after EHLO, as a test's stuck or slow client) when the test ends: the
// claim must not be let go while anything still takes connections on the
// fixed address.
func TestReviewFinalFixedClaimOutlivesBusyDaemon(t *testing.T) {
	const addr = "127.0.77.32:2542"
	var w *claimWatcher
	var open []net.Conn
	t.Run("lab", func(t *testing.T) {
		StartPostfix(t, MTAConfig{RelayPort: 1, Listen: addr})
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(c)
			r.ReadString('\n')
			c.Write([]byte("EHLO x\r\n"))
			for {
				l, err := r.ReadString('\n')
				if err != nil || len(l) > 3 && l[3] == ' ' {
					break
				}
			}
			open = append(open, c)
		}
		w = watchClaim(addr)
	})
	claimed, whileListening := w.stop(200 * time.Millisecond)
	for _, c := range open {
		c.Close()
	}
	t.Logf("claim let go: %v; while still listening: %v", claimed, whileListening)
	if whileListening {
		t.Errorf("the fixed address %s was claimable by another run while a connection to it was still accepted", addr)
	}
}
