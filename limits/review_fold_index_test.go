package limits_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// On Redis the copy that establishes a campaign is counted by one script
// with its message; a second round trip then indexes the campaign for
// its other senders (accounts show). That round trip failing (here its
// reply lost, a relay dropping the connection) is no failure of the
// commit: the script ran, the message and its copy are counted and the
// campaign stands. Before, the commit returned the index's error: the
// message got limits.on_error (tempfail) though counted, the new
// campaign's alert and its senders' suspension went with it, and the
// client's retry was held as a copy of a Known campaign.
func TestReviewFoldRedisIndexFails(t *testing.T) {
	ctx := context.Background()
	rd := harness.StartRedis(t)
	l := loseReplies(t, rd.Addr)
	st, err := limits.OpenRedis(ctx, l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	for i, acct := range []string{"ix-a1", "ix-a2"} {
		if cc, _, err := foldCopy(ctx, st, acct, "phishix", fmt.Sprint("IX", i), 3, now); err != nil || cc.Result.ID != "" {
			t.Fatalf("%s: %+v %v", acct, cc.Result, err)
		}
	}
	// Only the index round trip names another sender's list.
	l.arm("acamp:ix-a1")
	cc, ok, err := foldCopy(ctx, st, "ix-a3", "phishix", "IX3", 3, now)
	if l.lost.Load() == 0 {
		t.Fatal("the index round trip's reply was not lost")
	}
	if err != nil || !ok || !cc.Done {
		t.Fatalf("the crossing copy, its index's reply lost: ok %v done %v err %v; want counted, no error", ok, cc.Done, err)
	}
	if !cc.Result.New || cc.Result.Known || len(cc.Result.Accounts) != 3 {
		t.Fatalf("the crossing copy: %+v; want New with 3 accounts", cc.Result)
	}
	if cc.Result.Unindexed == nil {
		t.Errorf("the index's failure is not reported for the log")
	}
}
