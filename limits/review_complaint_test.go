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
