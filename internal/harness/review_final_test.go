package harness

import (
	"bufio"
	"net"
	"sync/atomic"
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
	var claimedWhileListening, claimed atomic.Bool
	stop := make(chan struct{})
	done := make(chan struct{})
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
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				l, err := net.Listen("unix", "@outguard-test-address "+addr)
				if err != nil {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				claimed.Store(true)
				if d, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
					d.Close()
					claimedWhileListening.Store(true)
				}
				l.Close()
				return
			}
		}()
	})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-done
	for _, c := range open {
		c.Close()
	}
	t.Logf("claim let go: %v; while still listening: %v", claimed.Load(), claimedWhileListening.Load())
	if claimedWhileListening.Load() {
		t.Errorf("the fixed address %s was claimable by another run while a connection to it was still accepted", addr)
	}
}
