package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// A flood of junk reports to the abuse address (anyone can mail it) is
// kept unattributable with its first 64 KiB each, for 30 days: without a
// bound, a million reports a day are 64 GB. At most 200 a day keep their
// text; the rest are still listed (why, reporter, subject), their text
// only in the mailbox. On each store.
func TestReviewUnattributableFloodBounded(t *testing.T) {
	const cap = 200
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			pol, _ := limits.NewPolicy(limits.Limits{ComplaintsPerDay: 2}, nil)
			e := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Accounts: limits.Accounts{Host: "h1"}}
			text := strings.Repeat("junk ", 1000)
			for i := range cap + 20 {
				if _, _, err := e.Complaint(ctx, limits.Complaint{ID: fmt.Sprint("raw:", i), Time: time.Now(), Kind: "forwarded", Problem: "no reference found", Report: text}); err != nil {
					t.Fatal(err)
				}
			}
			cs, err := st.Complaints(ctx, "", time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			withText := 0
			for _, c := range cs {
				if c.Report != "" {
					withText++
				} else if !strings.Contains(c.Problem, "not kept") {
					t.Errorf("a report without its text does not say why: %q", c.Problem)
				}
			}
			if len(cs) != cap+20 || withText != cap {
				t.Errorf("%d listed (want %d), %d with their text (want %d)", len(cs), cap+20, withText, cap)
			}
		})
	}
}

// failSuspend is a store whose first Suspend fails (the database gone
// between recording the complaint and suspending: no real server fails
// at exactly that point on demand).
type failSuspend struct {
	limits.Store
	failed bool
}

func (f *failSuspend) Suspend(ctx context.Context, s limits.Suspension, now time.Time) (bool, error) {
	if !f.failed {
		f.failed = true
		return false, fmt.Errorf("store gone")
	}
	return f.Store.Suspend(ctx, s, now)
}

// The complaint that crosses complaints_per_day is recorded, then the
// suspension fails: ingest exits 75 and Postfix delivers the report
// again. The redelivery is the same complaint (not counted twice) but
// must still suspend: before, a complaint recorded before was never
// looked at again, and the crossing was lost until the next complaint.
func TestReviewComplaintRetrySuspends(t *testing.T) {
	sq := stores(t)["sqlite"]
	st := &failSuspend{Store: sq}
	ctx := context.Background()
	pol, _ := limits.NewPolicy(limits.Limits{ComplaintsPerDay: 1}, nil)
	e := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Accounts: limits.Accounts{Host: "h1"}}
	c := func(id string) (bool, *limits.Suspension, error) {
		return e.Complaint(ctx, limits.Complaint{ID: id, Account: "alice", Time: time.Now(), Kind: "arf", QueueID: id})
	}
	if _, s, err := c("m1"); s != nil || err != nil {
		t.Fatal(s, err)
	}
	if _, _, err := c("m2"); err == nil {
		t.Fatal("the suspension failed, the complaint did not say so")
	}
	added, s, err := c("m2")
	if added || err != nil || s == nil {
		t.Fatalf("the report delivered again: added %v, suspension %v, %v", added, s, err)
	}
	if _, got, _ := sq.Usage(ctx, "alice", time.Now()); got == nil {
		t.Fatal("not suspended")
	}
}
