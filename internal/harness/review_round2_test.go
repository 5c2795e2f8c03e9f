package harness

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestReviewRound2FixedClaimOutlivesDaemon (review round2, claim A: "a
// fixed address is claimed across processes ... until its daemon is
// gone"). StartPostfix registers p.stop before ownAddress registers the
// claim's Close, and cleanups run last-in first-out: the claim on a fixed
// address is let go while the test's Postfix still listens there. Another
// test run (another process) that claims the address in that moment is
// told it is free, and its own check then finds Postfix listening (a
// spurious "taken" failure), or, once master is gone but its smtpd
// children still hold the inherited listener, shares it. A watcher here
// claims the address the moment it is let go and dials it.
func TestReviewRound2FixedClaimOutlivesDaemon(t *testing.T) {
	const addr = "127.0.77.31:2541"
	var w *claimWatcher
	t.Run("lab", func(t *testing.T) {
		StartPostfix(t, MTAConfig{RelayPort: 1, Listen: addr})
		// An smtpd child holding the listener, as after any test's mail.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write([]byte("QUIT\r\n"))
		c.Read(buf)
		c.Close()
		w = watchClaim(addr)
	})
	claimed, whileListening := w.stop(100 * time.Millisecond)
	t.Logf("claim let go: %v; while Postfix still listened: %v", claimed, whileListening)
	if whileListening {
		t.Errorf("the fixed address %s was claimable by another run while the test's Postfix still took connections there (claim released before the daemon stopped)", addr)
	}
}

// claimWatcher claims a fixed address (as another test run would,
// ownAddress) the moment its claim is let go, and dials the address then.
type claimWatcher struct {
	halt, done              chan struct{}
	claimed, whileListening atomic.Bool
}

func watchClaim(addr string) *claimWatcher {
	w := &claimWatcher{halt: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.halt:
				return
			default:
			}
			l, err := net.Listen("unix", "@outguard-test-address "+addr)
			if err != nil {
				time.Sleep(100 * time.Microsecond)
				continue
			}
			w.claimed.Store(true)
			if d, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				d.Close()
				w.whileListening.Store(true)
			}
			l.Close()
			return
		}
	}()
	return w
}

// stop waits after, for the cleanups to have run, then ends the watch:
// whether the claim was let go, and whether the address still took a
// connection when it was.
func (w *claimWatcher) stop(after time.Duration) (claimed, whileListening bool) {
	time.Sleep(after)
	close(w.halt)
	<-w.done
	return w.claimed.Load(), w.whileListening.Load()
}
