package main

// Independent review of issue #33 (reload truth), against the real binary.

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"
)

// A reload that changes a restart-only key (metrics) together with
// spool.max_total and milter.max_connections: refused as a whole, the
// budget and the cap of the running config stay as they were.
func TestReviewReloadNothingPartial(t *testing.T) {
	tmpfs := mountTmpfs(t, "8m")
	d, port := hostile(t, fmt.Sprintf("spool: {dir: %s, memory_limit: 64KiB, max_total: 4MiB}\nmilter: {max_connections: 3}\n", tmpfs), "")
	text, _ := os.ReadFile(d.config)
	next := strings.Replace(string(text), "max_total: 4MiB", "max_total: 1MiB", 1)
	next = strings.Replace(next, "max_connections: 3", "max_connections: 1", 1)
	// Another metrics port: never bound (the reload is refused), so any.
	next = strings.Replace(next, "metrics: {listen: \"127.0.0.1:", fmt.Sprintf("metrics: {listen: \"127.0.0.1:%d\"} #", port^1), 1)
	os.WriteFile(d.config, []byte(next), 0o644)
	d.signal(t, syscall.SIGHUP)
	d.waitLog(t, "reload failed")
	time.Sleep(100 * time.Millisecond)
	// 2 MiB on disk: within the old budget, past the new one.
	s := bodySession(t, d.socket, 2<<20)
	// A second connection at once: within the old cap, past the new one.
	if h := send(t, d.socket); h != "X-First" {
		t.Errorf("stamp %q", h)
	}
	if _, act, err := s.End(); err != nil || act.Type != gomilter.ActionAccept {
		t.Errorf("a 2 MiB message after a refused reload that lowered max_total: %v %+v\n%s", err, act, tail(d.log.String()))
	}
	s.Close()
}
