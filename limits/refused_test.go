package limits_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// evidenceSpy is the real SQLite store, counting how often the hour's
// evidence is read and a suspension attempted.
type evidenceSpy struct {
	*limits.SQLStore
	reads, suspends atomic.Int64
}

func (s *evidenceSpy) Undeliverables(ctx context.Context, key string, since time.Time) ([]limits.Undeliverable, error) {
	s.reads.Add(1)
	return s.SQLStore.Undeliverables(ctx, key, since)
}

func (s *evidenceSpy) Suspend(ctx context.Context, sp limits.Suspension, now time.Time) (bool, error) {
	s.suspends.Add(1)
	return s.SQLStore.Suspend(ctx, sp, now)
}

// A message with 1 000 recipients the MTA refuses: the account is
// suspended at the threshold, with the evidence read once; every refused
// recipient after it is counted and costs no more reading (before, each
// one reread the whole hour: 2 → 12 ms per RCPT over 1 000). The same for
// a message of an account suspended before it began (on_suspended:
// quarantine lets it go on).
func TestRefusedRecipientsAfterThresholdCostNoEvidenceRead(t *testing.T) {
	sq, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	spy := &evidenceSpy{SQLStore: sq}
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 10}, nil)
	eng := &limits.Engine{Store: spy, Policy: pol, OnSuspended: policy.Quarantine, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now}
	ctx := context.Background()
	for msg := range 2 {
		tx := &policy.Transaction{ID: fmt.Sprint("tx", msg), User: "bob@example.net"}
		if _, err := eng.CheckMail(ctx, tx); err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			r := policy.Recipient{Addr: fmt.Sprintf("gone%d@remote.test", i), Status: "5.1.1", Text: "no such user"}
			if err := eng.RejectedRcpt(ctx, tx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r, s := spy.reads.Load(), spy.suspends.Load(); r != 1 || s != 1 {
		t.Errorf("the evidence was read %d times and a suspension attempted %d times for 2 000 refused recipients; want once each", r, s)
	}
	evs, _ := sq.Undeliverables(ctx, "bob@example.net", time.Now().Add(-time.Hour))
	if len(evs) != 2000 {
		t.Errorf("%d refused recipients counted, want 2000", len(evs))
	}
}
