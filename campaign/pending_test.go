package campaign_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"outguard/campaign"
	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// failingSuspend is a store whose Suspend of one account fails once: the
// store going away between establishing a campaign and suspending its
// senders.
type failingSuspend struct {
	limits.Store
	account string
	fails   atomic.Int32 // how many more times
}

func (f *failingSuspend) Suspend(ctx context.Context, s limits.Suspension, now time.Time) (bool, error) {
	if s.Key == f.account && f.fails.Add(-1) >= 0 {
		return false, errors.New("store gone")
	}
	return f.Store.Suspend(ctx, s, now)
}

// On each store: the copy that establishes a campaign fails while its
// third sender is suspended (the error goes to on_error: tempfail); the
// next messages of anyone, unrelated ones, finish the job: all five
// senders suspended, none pending; a suspension that fails again leaves
// the unrelated message passed and the sender pending for the next. Before: the third to fifth senders
// stayed unsuspended (a retried fifth copy, Known then, suspended only
// its own sender).
func TestPendingSuspensionFinished(t *testing.T) {
	ctx := context.Background()
	for name, o := range storeOpeners(ctx, t) {
		t.Run(name, func(t *testing.T) {
			st := o()
			t.Cleanup(func() { st.Close() })
			now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			pol, _ := limits.NewPolicy(limits.Limits{}, nil)
			fs := &failingSuspend{Store: st, account: "victim2@isp.example"}
			fs.fails.Store(2)
			lim := &limits.Engine{Store: fs, Policy: pol, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
				Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day}
			eng := campaign.New(campaign.Options{Store: st.(limits.CampaignStore), Limits: lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
				SharedDomains: []string{"isp.example"}, Seed: campaign.FixedSeed(campaign.Seed{}), Log: lim.Log, Now: func() time.Time { return now }})
			commit := func(account string, rcpts []string, raw []byte) error {
				now = now.Add(time.Minute)
				// The headers are not needed: the account is the login.
				_, err := eng.Commit(ctx, &policy.Transaction{User: account, Rcpts: rcpts, Message: bytes.NewReader(raw), QueueID: fmt.Sprint("Q", now.Unix())})
				return err
			}
			for i := range 5 {
				rcpt, raw := hamgen.Phish(i, false)
				err := commit(fmt.Sprintf("victim%d@isp.example", i), []string{rcpt}, raw)
				if (i == 4) != (err != nil) {
					t.Fatalf("copy %d: %v", i, err)
				}
			}
			sus, _ := st.Suspensions(ctx)
			if len(sus) != 2 {
				t.Fatalf("%d suspended after the failure, want the 2 before it", len(sus))
			}
			// The next message: the third sender's suspension fails
			// again; the message is not failed for it, the fourth and
			// fifth are suspended.
			m := hamgen.Newsletter(3, 1)[0]
			if err := commit(m.Account, m.Rcpts, m.Raw); err != nil {
				t.Fatal(err)
			}
			if sus, _ = st.Suspensions(ctx); len(sus) != 4 {
				t.Fatalf("%d suspended after the next message, want 4", len(sus))
			}
			m = hamgen.Newsletter(5, 1)[0]
			if err := commit(m.Account, m.Rcpts, m.Raw); err != nil {
				t.Fatal(err)
			}
			sus, _ = st.Suspensions(ctx)
			if len(sus) != 5 {
				t.Fatalf("%d suspended after the messages after, want the 5 senders", len(sus))
			}
			for _, s := range sus {
				if s.Signal != limits.SignalCampaign || s.Key == m.Account {
					t.Fatalf("suspension %+v", s)
				}
			}
			// nothing pending any more
			m = hamgen.Newsletter(4, 1)[0]
			res, err := st.(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: []string{"t1x"}, Account: m.Account, Time: now, Bands: 5}, time.Minute, 5)
			if err != nil || len(res.Pending) != 0 {
				t.Fatalf("pending after: %+v %v", res, err)
			}
		})
	}
}

// storeOpeners open a new store of each kind: SQLite in t's directory, a
// Redis and a PostgreSQL of the harness.
func storeOpeners(ctx context.Context, t *testing.T) map[string]func() limits.Store {
	return map[string]func() limits.Store{
		"sqlite": func() limits.Store {
			st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"redis": func() limits.Store {
			st, err := limits.OpenRedis(ctx, harness.StartRedis(t).Addr)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"postgres": func() limits.Store {
			st, err := limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}
