package limits_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
)

// Review of #29: a courier is delivering the outbox's oldest item (the
// webhook receiver has it, and answers slowly) when an alert storm takes
// the outbox over its bound and another courier of the fleet trims it.
// The item being delivered must not be both delivered and logged and
// audited as an "alert lost": the trim drops the oldest items no courier
// holds. Before, the trim dropped the leased item too (logged lost), and
// the first courier's delivery went through all the same.
func TestReviewTrimSparesLeasedItem(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			base := time.Now().Add(-time.Minute)
			enqueueRange(t, st, base, 0, 1)
			arrived, release := make(chan struct{}), make(chan struct{})
			var mu sync.Mutex
			var got []string
			var once sync.Once
			addr := downAddr(t)
			serve(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				buf := make([]byte, 100)
				n, _ := r.Body.Read(buf)
				mu.Lock()
				got = append(got, string(buf[:n]))
				mu.Unlock()
				once.Do(func() { close(arrived); <-release })
			}))
			snd := alert.Sender{Webhook: "http://" + addr + "/", Timeout: 20 * time.Second}
			logs := &harness.LogBuffer{}
			a := &limits.Courier{Store: st, Host: "mx1", Sender: snd, Log: harness.Logger(t, logs)}
			done := make(chan struct{})
			go func() { defer close(done); a.Flush(ctx) }()
			<-arrived // a0 is with the receiver, leased by mx1
			enqueueRange(t, st, base, 1, 4)
			b := &limits.Courier{Store: st, Host: "mx2", Sender: alert.Sender{Webhook: "http://" + downAddr(t) + "/", Timeout: time.Second},
				Log: harness.Logger(t, logs), MaxItems: 2, Backoff: time.Hour}
			if _, err := b.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			close(release)
			<-done
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || !strings.Contains(got[0], `"a0"`) {
				t.Fatalf("receiver got %q; want a0 once", got)
			}
			if strings.Contains(logs.String(), "alert lost: the outbox is full\" id=a0") || strings.Contains(logs.String(), "id=a0 dest=webhook account=u0 max=2") {
				t.Errorf("a0 delivered, and logged lost:\n%s", logs)
			}
			trail, err := st.AuditTrail(ctx, "u0", base.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range trail {
				if ev.Event == limits.AuditAlertLost {
					t.Errorf("a0 delivered, and audited lost: %+v", ev)
				}
			}
			// The bound still holds for the items nobody holds: of a1..a3,
			// the oldest went (2 kept).
			items, err := st.OutboxItems(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if kept := alertIDs(items); kept != "a2 a3" {
				t.Errorf("outbox %v; want [a2 a3]", kept)
			}
		})
	}
}
