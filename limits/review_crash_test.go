package limits_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
)

// Review of docs/postgres.md's "Durability" (schema 11): og_admit commits
// without waiting for the WAL, everything else waits. PostgreSQL is killed
// (SIGKILL, every process: its WAL buffers are lost) in the middle of a
// load of commits, suspensions, refused-recipient events and audit
// lines, on a server whose WAL writer waits 10 s (so that what is only
// in its buffers really is lost). After recovery every suspension, event
// and audit line whose call returned is there; the counts are never more
// than what was admitted, and the calls the crash cut off (one per worker:
// committed, their reply lost), some may be lost (the documented cost).
func TestReviewPostgresKilledMidLoad(t *testing.T) {
	ctx := context.Background()
	pg := harness.StartPostgres(t, "wal_writer_delay=10000ms")
	st, err := limits.OpenPostgres(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	const accounts = 16
	var admitted, inflight [accounts]atomic.Int64
	var mu sync.Mutex
	var suspended []string
	var events, audits int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := func(f func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if f(i) != nil {
					return // the server is gone: nothing after counts
				}
			}
		}()
	}
	for w := range 4 {
		run(func(i int) error {
			k := (i + w) % accounts
			now := time.Now()
			_, ok, _, _, err := st.CommitMessage(ctx, fmt.Sprint("acct", k), limits.Sent{Host: "mx1", QueueID: fmt.Sprint("Q", w, "-", i), Rcpts: []string{"r@remote.test"}, Time: now}, limits.Limits{}, nil, now)
			if err == nil && ok {
				admitted[k].Add(1)
			}
			if err != nil {
				// the worker's last call: the crash may have taken its
				// reply after its commit (seen in CI: one more counted)
				inflight[k].Add(1)
			}
			return err
		})
	}
	run(func(i int) error {
		key := fmt.Sprint("susp", i)
		now := time.Now()
		ok, err := st.Suspend(ctx, limits.Suspension{Key: key, Since: now, Reason: "crash", By: "abuse-desk"}, now)
		if err == nil && ok {
			mu.Lock()
			suspended = append(suspended, key)
			mu.Unlock()
		}
		return err
	})
	run(func(i int) error {
		now := time.Now()
		_, err := st.AddRefused(ctx, "refusing", []limits.Undeliverable{{ID: fmt.Sprint("ev", i), Time: now, Rcpt: "r@remote.test", Status: "5.7.1", Source: "rcpt"}}, now)
		if err == nil {
			mu.Lock()
			events++
			mu.Unlock()
		}
		return err
	})
	run(func(i int) error {
		err := st.Audit(ctx, limits.AuditEvent{Time: time.Now(), Account: "audited", Event: limits.AuditSuspended, By: "abuse-desk", Host: "mx1", Detail: fmt.Sprint(i)})
		if err == nil {
			mu.Lock()
			audits++
			mu.Unlock()
		}
		return err
	})
	time.Sleep(1500 * time.Millisecond)
	pg.Kill()
	close(stop)
	wg.Wait()
	st.Close()
	pg.Start()
	st, err = limits.OpenPostgres(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var lost, total int64
	for k := range accounts {
		u, _, err := st.Usage(ctx, fmt.Sprint("acct", k), now)
		if err != nil {
			t.Fatal(err)
		}
		a := admitted[k].Load()
		if int64(u.MessagesHour) > a+inflight[k].Load() {
			t.Errorf("acct%d: %d counted after the crash, only %d admitted (and %d in flight at the crash)", k, u.MessagesHour, a, inflight[k].Load())
		}
		lost, total = lost+a-int64(u.MessagesHour), total+a
	}
	t.Logf("admitted %d, counts lost to the crash %d; %d suspensions, %d events, %d audit lines returned", total, lost, len(suspended), events, audits)
	if total == 0 || len(suspended) == 0 || events == 0 || audits == 0 {
		t.Fatal("the load did not run")
	}
	have := map[string]bool{}
	ss, err := st.Suspensions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		have[s.Key] = true
	}
	for _, k := range suspended {
		if !have[k] {
			t.Errorf("suspension of %s returned, lost to the crash", k)
		}
	}
	if evs, err := st.Refused(ctx, "refusing", now.Add(-time.Hour)); err != nil || len(evs) < events {
		t.Errorf("refused-recipient events: %d after the crash, %d returned (%v)", len(evs), events, err)
	}
	if tr, err := st.AuditTrail(ctx, "audited", now.Add(-time.Hour)); err != nil || len(tr) < audits {
		t.Errorf("audit lines: %d after the crash, %d returned (%v)", len(tr), audits, err)
	}
}

// Review of docs/postgres.md's opt-in: `ALTER ROLE milterd SET
// outguard.synchronous_commit = 'on'`, exactly as written, makes the
// role's later sessions' og_admit wait for the flush (TestAdmitSynchronousCommit
// sets it inside one transaction only).
func TestReviewSynchronousCommitByRole(t *testing.T) {
	ctx := context.Background()
	pg := harness.StartPostgres(t)
	owner := pg.Database("outguard", "milterd")
	st, err := limits.OpenPostgres(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, c := range []struct{ alter, want string }{{"", "off"}, {`ALTER ROLE milterd SET outguard.synchronous_commit = 'on';`, "on"}} {
		if c.alter != "" {
			pg.SQL("outguard", c.alter)
		}
		db, err := sqldb.OpenPostgres(owner)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := admitSynchronousCommit(ctx, t, tx)
		tx.Rollback()
		db.Close()
		if got != c.want {
			t.Errorf("%q: og_admit commits with synchronous_commit %q, want %q", c.alter, got, c.want)
		}
	}
}

// admitSynchronousCommit calls og_admit in tx and returns the
// synchronous_commit its transaction then commits with.
func admitSynchronousCommit(ctx context.Context, t *testing.T, tx *sql.Tx) string {
	t.Helper()
	var ok bool
	if err := tx.QueryRowContext(ctx, `SELECT o_ok FROM og_admit('k', 0, 0, ARRAY[0,0,0,0]::BIGINT[], 1, 0, 1, 100, 1, 'mx', '', 0, 'r',
		'{}'::TEXT[], '{}'::TEXT[], '{}'::BIGINT[], '{}'::BIGINT[], '{}'::TEXT[], 0, 0, '{}'::TEXT[], '', '', '{}'::TEXT[], '', '{}'::BIGINT[])`).Scan(&ok); err != nil || !ok {
		t.Fatalf("og_admit: %v %v", ok, err)
	}
	var got string
	if err := tx.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}
