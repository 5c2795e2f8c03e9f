package limits_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// TestReviewClockRollRestricted: as docs/postgres.md's smarthost role (row
// rights only), eight hosts with correct clocks roll the same account's
// minute and hour slots at the exact start of the minute (each slot held
// a bucket a ring older): none is refused and all eight count; then a
// host an hour ahead, and one an hour behind, are refused and change
// nothing.
func TestReviewClockRollRestricted(t *testing.T) {
	pg := harness.StartPostgres(t)
	owner := pg.Database("outguard", "milterd", "smarthost")
	ctx := context.Background()
	m, err := limits.OpenPostgres(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	pg.SQL("outguard", `GRANT SELECT ON schema_version TO smarthost;
		GRANT SELECT, INSERT, UPDATE, DELETE ON counters, msgs, delivered, undeliverable, refused, suspended, acks, sightings, complaints TO smarthost;`)
	const hosts = 8
	sts := make([]limits.Store, hosts)
	for i := range sts {
		if sts[i], err = limits.OpenPostgres(ctx, pg.DSNFor("smarthost", "outguard")); err != nil {
			t.Fatal(err)
		}
		defer sts[i].Close()
	}
	commit := func(st limits.Store, qid string, at time.Time) error {
		return commitAt(ctx, st, "acct", qid, at)
	}
	// The minute boundary just passed by the store's clock; the slots hold
	// the buckets a day (the hour ring) and an hour (the minute ring) older.
	at := time.Now().Truncate(time.Minute)
	if err := commit(sts[0], "old-day", at.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := commit(sts[0], "old-hour", at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Go(func() {
			if err := commit(sts[i], fmt.Sprint("Q", i), at); err != nil {
				t.Errorf("host %d at the minute's start: %v", i, err)
			}
		})
	}
	wg.Wait()
	u0, _, err := sts[0].Usage(ctx, "acct", at)
	if err != nil {
		t.Fatal(err)
	}
	if u0.MessagesHour != hosts {
		t.Fatalf("after the roll: %+v, want %d this hour", u0, hosts)
	}
	for _, off := range []time.Duration{time.Hour, -time.Hour, 24 * time.Hour} {
		if err := commit(sts[1], fmt.Sprint("skew", off), at.Add(off)); !errors.Is(err, limits.ErrClockSkew) {
			t.Errorf("a host %v off: %v, want ErrClockSkew", off, err)
		}
		if u, _, err := sts[0].Usage(ctx, "acct", at); err != nil || u.MessagesHour != u0.MessagesHour || u.MessagesDay != u0.MessagesDay {
			t.Errorf("after a host %v off: %+v %v, want %+v", off, u, err, u0)
		}
	}
}
