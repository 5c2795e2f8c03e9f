package limits_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"outguard/limits"
)

// TestCampaignSeedFirstWriter: on each store, eight writers offering
// eight different seeds at once all get the same one, which one of them
// offered; a later writer gets it too: the first writer's seed is the
// fleet's and is never replaced.
func TestCampaignSeedFirstWriter(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ss := st.(limits.SeedStore)
			const n = 8
			got, errs := make([][]byte, n), make([]error, n)
			fresh := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, 32) }
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					got[i], errs[i] = ss.CampaignSeed(ctx, fresh(i))
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("writer %d: %v", i, errs[i])
				}
				if !bytes.Equal(got[i], got[0]) {
					t.Fatalf("writer %d got %x, writer 0 %x", i, got[i], got[0])
				}
				if bytes.Equal(got[0], fresh(i)) {
					winner = i
				}
			}
			if winner < 0 {
				t.Fatalf("the seed %x is nobody's", got[0])
			}
			if again, err := ss.CampaignSeed(ctx, fresh(99)); err != nil || !bytes.Equal(again, got[0]) {
				t.Errorf("a later writer: %x %v, want %x", again, err, got[0])
			}
			if _, err := ss.CampaignSeed(ctx, nil); err == nil {
				t.Error("no fresh seed offered: no error")
			}
			t.Logf("writer %d won", winner)
		})
	}
}
