package limits_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"outguard/limits"
)

// Review: two processes opening one new SQLite state at once (two
// milterds started together on one state_dir, milterd and milterctl)
// both open it. Before, the DSN set journal_mode(WAL) before
// busy_timeout: switching a new file to WAL while the other held a lock
// failed at once with SQLITE_BUSY (no busy handler yet), and the host
// did not start (TestCampaignSeedFleet's sqlite rounds, at random).
func TestReviewSQLiteOpenTogether(t *testing.T) {
	dir := t.TempDir()
	for round := range 100 {
		path := filepath.Join(dir, fmt.Sprint(round, ".db"))
		const n = 2
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				st, err := limits.OpenSQLite(path)
				if err == nil {
					st.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, opener %d: %v", round, i, err)
			}
		}
	}
}
