package limits_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
)

// Issue #29: an alert storm while the webhook receiver is down: the
// outbox keeps its newest MaxItems deliveries; each older one is dropped
// at the courier's next look, logged with its alert and put in the
// account's audit trail as an alert lost. Before, the outbox grew without
// a bound.
func TestOutboxBound(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			base := time.Now().Add(-time.Minute)
			enqueueRange(t, st, base, 0, 8)
			logs := &harness.LogBuffer{}
			c := &limits.Courier{Store: st, Host: "mx1", Sender: alert.Sender{Webhook: "http://" + downAddr(t) + "/", Timeout: time.Second},
				Log: harness.Logger(t, logs), MaxItems: 5}
			if _, err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			items, err := st.OutboxItems(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if kept := alertIDs(items); kept != "a3 a4 a5 a6 a7" {
				t.Errorf("kept %v; want the newest five", kept)
			}
			if n := strings.Count(logs.String(), "alert lost: the outbox is full"); n != 3 {
				t.Errorf("%d logged lost; want 3\n%s", n, logs)
			}
			trail, err := st.AuditTrail(ctx, "", base.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var lost []string
			for _, ev := range trail {
				if ev.Event == limits.AuditAlertLost && strings.Contains(ev.Detail, "more than 5") {
					lost = append(lost, ev.Account)
				}
			}
			slices.Sort(lost)
			if fmt.Sprint(lost) != "[u0 u1 u2]" {
				t.Errorf("audited lost %v; want u0 u1 u2", lost)
			}
		})
	}
}
