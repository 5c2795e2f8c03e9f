package limits_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"outguard/limits"
	"outguard/policy"
)

// refuseSilently is a store whose commit answers "not admitted" with no
// suspension while the usage it returns crosses no limit: no real store
// does this on demand (all three apply Check's own test), but a future
// store or migration that disagreed with Check must not turn into a pass.
type refuseSilently struct{ limits.Store }

func (r refuseSilently) CommitMessage(ctx context.Context, key string, m limits.Sent, lim limits.Limits, ss []limits.Sighting, now time.Time) (limits.Usage, bool, *limits.Suspension, map[string]int, error) {
	u, _, _, n, err := r.Store.CommitMessage(ctx, key, m, lim, ss, now)
	return u, false, nil, n, err
}

// A refusal the limits cannot explain is the store's failure (the
// configured on_error), never an accept: before, Commit fell through to
// Accept.
func TestCommitRefusedWithoutReasonIsAFailure(t *testing.T) {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 100}, nil)
	e := &limits.Engine{Store: refuseSilently{st}, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Accounts: limits.Accounts{Host: "mx1"}}
	ctx := context.Background()
	tx := &policy.Transaction{ID: "t1", QueueID: "Q1", User: "alice", From: "alice@customer.test"}
	if v, err := e.CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
		t.Fatalf("MAIL: %v %v", v, err)
	}
	tx.Rcpts = []string{"friend@remote.test"}
	v, err := e.Commit(ctx, tx)
	if err == nil {
		t.Fatalf("a refusal without a reason gave %v and no error", v)
	}
}
