package probe

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Review of #26/#30: each test is an attempt to make a scan that did not
// test a target declare it fixed, or to make a wait unbounded.

// A block is lifted as fixed only after a scan tested its address and
// found it closed: not because the scan that confirmed it can no longer
// be read (damaged, removed by a clean-up, or beyond history).
func TestReviewBlockNotLiftedWhenEvidenceUnreadable(t *testing.T) {
	l := newBlockLab(t)
	l.save(0, true, relay(Confirmed))
	if e := l.enforce(1); len(e.Added) != 1 {
		t.Fatalf("not blocked: %+v", e)
	}
	// A later scan that could not reach it (a blocked address often
	// cannot be reached by the scanner at all).
	l.save(2, true, nil, Outcome{Target: "192.0.2.7:25", State: Unreachable})
	names, _ := filepath.Glob(filepath.Join(l.dir, "scans", "*.json"))
	if err := os.WriteFile(names[0], []byte("{\"started\": "), 0o640); err != nil {
		t.Fatal(err)
	}
	e := l.enforce(3)
	if len(e.Lifted) != 0 || len(e.Active) != 1 {
		t.Errorf("block lifted though no scan found the address closed: lifted %+v", e.Lifted)
	}
}

// Likewise when the confirming scan is beyond history: a blocked address
// the scanner can no longer reach (the block itself may drop its answers)
// for history scans is not thereby fixed.
func TestReviewBlockNotLiftedBeyondHistory(t *testing.T) {
	l := newBlockLab(t)
	l.save(0, true, relay(Confirmed))
	if e := l.enforce(1); len(e.Added) != 1 {
		t.Fatalf("not blocked: %+v", e)
	}
	for i := range history {
		l.t0 = l.t0.Add(time.Second)
		l.save(1+i/3600, true, nil, Outcome{Target: "192.0.2.7:25", State: Unreachable})
	}
	if e := l.enforce(2); len(e.Lifted) != 0 || len(e.Active) != 1 {
		t.Errorf("block lifted after %d scans that could not reach it: lifted %+v", history, e.Lifted)
	}
}
