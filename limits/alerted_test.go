package limits

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The windows an engine remembers having alerted are bounded: a storm of
// accounts over their limits (one entry each) stops at maxAlerted, ended
// windows are forgotten first, and an account still remembered is not
// alerted again in its window. Before, the map kept one entry per account
// and limit for the life of the process.
func TestAlertedBounded(t *testing.T) {
	var log bytes.Buffer
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	e := &Engine{Log: slog.New(slog.NewTextHandler(&log, nil)), Now: func() time.Time { return now }}
	over := func(account string) {
		e.exceeded(account, &Exceeded{Limit: 1, What: "messages per hour", FreeAt: now.Add(Hour)}, Usage{})
	}
	alerts := func() int { return strings.Count(log.String(), "sending limit reached") }
	for i := range maxAlerted {
		over(fmt.Sprint("ip:192.0.2.", i))
	}
	if n := e.alerted.len(); n != maxAlerted || alerts() != maxAlerted {
		t.Fatalf("%d accounts over: %d remembered, %d alerts", maxAlerted, n, alerts())
	}
	over("ip:192.0.2.0") // remembered: its window has not ended
	if alerts() != maxAlerted {
		t.Fatalf("an account alerted again within its window: %d alerts", alerts())
	}
	over("one more")
	if n := e.alerted.len(); n > maxAlerted*3/4+1 || alerts() != maxAlerted+1 {
		t.Fatalf("one more account over a full set: %d remembered (bound %d), %d alerts", n, maxAlerted, alerts())
	}
	now = now.Add(Hour + time.Second) // every window above has ended
	late := maxAlerted - e.alerted.len()
	for i := range late { // fill the set again, with windows still open
		over(fmt.Sprint("late", i))
	}
	over("after the windows")
	if n := e.alerted.len(); n != late+1 {
		t.Errorf("a full set after its windows ended: %d remembered; want only those of the new window", n)
	}
}
