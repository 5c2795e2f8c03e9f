package probe

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A second relayprobe block (or the scan's enforcement) waiting for the
// first one's lock, which may be held for minutes by a hanging backend,
// ends when it is told to (SIGTERM ends the context): it does not wait
// for the lock regardless.
func TestReviewBlockLockWaitHonoursContext(t *testing.T) {
	l := newBlockLab(t)
	l.save(0, true, relay(Confirmed))
	f, err := os.OpenFile(filepath.Join(l.dir, "blocks.lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil { // the other run
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Enforce(ctx, l.cfg, l.t0.Add(time.Hour), false, slog.New(slog.DiscardHandler))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Enforce ran while another run held the lock")
		}
	case <-time.After(10 * time.Second):
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // let it end
		<-done
		t.Fatalf("Enforce still waiting for the lock 10 s after its context ended")
	}
}
