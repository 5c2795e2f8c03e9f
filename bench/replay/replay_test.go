package main

import (
	"testing"
	"time"
)

// The short form of the replay, run by make test: a day of 100 accounts in
// 15 s per store and log source (under -race the follower may lag; it is waited for). Correctness is asserted (no false suspension, every
// compromised account suspended); the delays are reported, not asserted:
// figures belong to the benchmark run (docs/BENCHMARKS.md).
func TestReplayShort(t *testing.T) {
	for _, v := range variants {
		t.Run(v.store+"-"+v.source, func(t *testing.T) {
			t.Parallel()
			r := Run(t, v.store, v.source, 100, 15*time.Second, 7)
			if len(r.False) > 0 {
				t.Errorf("false suspensions: %v", r.False)
			}
			for _, a := range compromised {
				d, ok := r.Delay[a]
				if !ok {
					t.Errorf("%s was not suspended", a)
				}
				t.Logf("%s suspended %v after the crossing line", a, d)
			}
			t.Logf("%d log lines, %d messages", r.Lines, r.Messages)
		})
	}
}
