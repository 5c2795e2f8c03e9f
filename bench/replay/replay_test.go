package main

import (
	"strings"
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

// The short form of the spread replay: 200 accounts on each store (and on
// SQLite without GeoIP). No
// normal account is suspended, every botnet account is, at or after (never
// before) the login that crosses a limit.
func TestSpreadReplayShort(t *testing.T) {
	for _, kind := range []string{"sqlite", "redis", "postgres", "sqlite-nogeo"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			r := RunSpread(t, strings.TrimSuffix(kind, "-nogeo"), 200, 7, !strings.HasSuffix(kind, "-nogeo"))
			if len(r.False) > 0 || len(r.Early) > 0 {
				t.Errorf("false suspensions: %v; early: %v", r.False, r.Early)
			}
			for _, a := range compromised {
				d, ok := r.Delay[a]
				if !ok {
					t.Errorf("%s was not suspended", a)
				}
				t.Logf("%s suspended for %s %v after the crossing login began", a, r.Signal[a], d)
			}
			t.Logf("%d logins, %d classed as spam; most per hour by pattern %v, spam %d", r.Logins, r.Spam, r.MaxHour, r.MaxSpamH)
		})
	}
}
