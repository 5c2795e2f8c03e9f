package quarantine_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"outguard/quarantine"
)

// Review: processes opening one new local quarantine at once (milterd
// and milterctl, two milterds on one state_dir) all open it. Before,
// one was refused SQLITE_BUSY while another switched the index to WAL.
func TestReviewQuarantineOpenTogether(t *testing.T) {
	for round := range 100 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(round))
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				q, err := quarantine.Open(dir)
				if err == nil {
					q.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, opener %d: %v", round, i, err)
			}
		}
	}
}
