package complaint

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"outguard/limits"
)

// Two ingests at once on one Maildir (a timer run overlapping the last
// one, or two hosts sharing the mailbox): every report ends in cur/,
// none is lost, and each message complained about is counted once.
func TestReviewMaildirTwoIngests(t *testing.T) {
	ks := testKeys(t, 1)
	dir := t.TempDir()
	for _, d := range []string{"new", "cur", "tmp"} {
		os.Mkdir(filepath.Join(dir, d), 0o700)
	}
	const n = 60
	now := time.Now()
	for i := range n {
		r := aliceRef
		r.QueueID, r.Time = fmt.Sprint("Q", i), now
		ref, _ := ks.Seal(r)
		os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("%d.r%d.host", now.Unix(), i)), append(trustedAR, report(t, "arf-full.eml", ref)...), 0o600)
	}
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	e := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Accounts: limits.Accounts{Host: "h1"}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	newOnes := 0
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: ourMTA, Record: e}
			if err := in.Maildir(context.Background(), dir, func(_ string, r Result) {
				mu.Lock()
				if r.New {
					newOnes++
				}
				mu.Unlock()
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	left, _ := os.ReadDir(filepath.Join(dir, "new"))
	cur, _ := os.ReadDir(filepath.Join(dir, "cur"))
	cs, _ := st.Complaints(context.Background(), aliceRef.Account, now.Add(-time.Hour))
	if len(left) != 0 || len(cur) != n || len(cs) != n || newOnes > n {
		t.Errorf("new/ %d, cur/ %d, complaints %d, reported new %d; want 0, %d, %d", len(left), len(cur), len(cs), newOnes, n, n)
	}
}
