package limits_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"outguard/limits"
)

// Two hosts trimming at once (each its own connection to the store)
// drop the excess between them, never more: each counted the outbox
// before the other's delete, and a trim that counts, then deletes the
// count's excess, drops a second excess of newer alerts.
func TestReviewOutboxTrimRaceDropsOnlyTheExcess(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			hosts := []limits.Store{open(), open(), open(), open()}
			now := time.Now()
			enqueueRange(t, hosts[0], now.Add(-time.Hour), 0, 1010)
			for round := 0; round < 5; round++ {
				var wg sync.WaitGroup
				var mu sync.Mutex
				dropped := 0
				for _, st := range hosts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						out, err := st.TrimOutbox(ctx, 1000-round, now)
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						dropped += len(out)
						mu.Unlock()
					}()
				}
				wg.Wait()
				items, err := hosts[0].OutboxItems(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(items) != 1000-round {
					t.Fatalf("round %d: %d items kept (%d dropped); want %d", round, len(items), dropped, 1000-round)
				}
			}
		})
	}
}
