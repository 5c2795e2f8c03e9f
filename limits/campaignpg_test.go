package limits_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
)

// commitCount commits one message of cc's account with its copy, as the
// limits and campaign engines' commits do (the copy counted alone if
// the commit did not).
func commitCount(ctx context.Context, st limits.Store, cc *limits.CampaignCount, qid string) (bool, limits.CampaignResult, error) {
	now := cc.Copy.Time
	_, ok, _, _, err := st.CommitMessage(ctx, cc.Copy.Account, limits.Sent{Host: "mx", QueueID: qid, Rcpts: []string{"r@x"}, Time: now, Campaign: cc}, limits.Limits{}, nil, now)
	if err != nil || cc.Done || !ok {
		return ok, cc.Result, err
	}
	res, err := st.(limits.CampaignStore).CampaignCopy(ctx, cc.Copy, cc.Window, cc.Threshold)
	return ok, res, err
}

// PostgreSQL's og_campaign is SQLite's campaignIn written again on the
// server: the same random days of copies (accounts alone and in groups,
// shared and own recipients, varied bands, attachments and archives,
// copies leaving the window, campaigns that suspend) give the same
// results on both, copy by copy: the campaign, Known, New, its accounts
// in order, the pending suspensions. SQLite is the reference.
func TestCampaignPostgresAsSQLite(t *testing.T) {
	ctx := context.Background()
	sq, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	pg, err := limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN+" outguard.max_clock_skew=0")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Minute)
	var established, known, reached int
	for scen := range 60 {
		r := rand.New(rand.NewPCG(uint64(scen), 7))
		bands := 2 + r.IntN(4)
		threshold := 2 + r.IntN(4)
		window := time.Duration(3+r.IntN(10)) * time.Minute
		suspend := r.IntN(3) == 0
		rcptPool := 1 + r.IntN(6)
		for i := range 14 + r.IntN(10) {
			acct := r.IntN(9)
			group := ""
			if acct < 3 && scen%2 == 0 {
				group = fmt.Sprint("org", scen)
			}
			var keys []string
			for b := range 8 {
				v := 0
				if r.IntN(4) == 0 {
					v = i + 1 // this copy's own wording of band b
				}
				keys = append(keys, fmt.Sprintf("t1s%d-b%d-v%d", scen, b, v))
			}
			switch r.IntN(5) {
			case 0:
				keys = append(keys, fmt.Sprintf("f1s%d-%d", scen, r.IntN(2)))
			case 1:
				keys = append(keys, fmt.Sprintf("a1s%d", scen))
			}
			var rcpts []string
			for range r.IntN(3) {
				rcpts = append(rcpts, fmt.Sprintf("h%d-%d", scen, r.IntN(rcptPool)))
			}
			now := base.Add(time.Duration(scen)*time.Hour + time.Duration(i)*time.Minute)
			var got [2]limits.CampaignResult
			for s, st := range []limits.Store{sq, pg} {
				cc := &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("s", scen, "acct", acct), Group: group, Subject: "subj",
					Time: now, Bands: bands, Rcpts: rcpts, Suspend: suspend}, Window: window, Threshold: threshold}
				ok, res, err := commitCount(ctx, st, cc, fmt.Sprint("Q", scen, "-", i))
				if err != nil || !ok || !cc.Done {
					t.Fatalf("scenario %d copy %d: admitted %v, done %v, %v", scen, i, ok, cc.Done, err)
				}
				got[s] = res
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("scenario %d copy %d (bands %d, threshold %d):\nsqlite   %+v\npostgres %+v", scen, i, bands, threshold, got[0], got[1])
			}
			if got[0].New {
				established++
			}
			if got[0].Known {
				known++
			}
			if got[0].ID != "" && group != "" {
				reached++
			}
		}
		if suspend {
			// The pending suspensions done, on both: the next pending lists
			// start afresh.
			for _, st := range []limits.Store{sq, pg} {
				cs := st.(limits.CampaignStore)
				for {
					res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: []string{"t1none"}, Account: "nobody", Time: base.Add(time.Duration(scen+1) * time.Hour), Bands: 1}, time.Minute, 100)
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Pending) == 0 {
						break
					}
					if err := cs.CampaignSuspended(ctx, res.Pending); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	t.Logf("%d campaigns established, %d known copies, %d copies of grouped accounts in one", established, known, reached)
	if established < 10 || known < 30 {
		t.Fatalf("the days made too few campaigns to compare: %d established, %d known", established, known)
	}
}

// PostgreSQL's backend is terminated while a message's commit waits
// inside og_campaign for a key's lock (another session holds it): the
// message's count, its record and its copy's keys are one transaction,
// so none of them is left; the commit returns the error (never an
// admission), and the next commit counts both. Before (og_admit, then the
// copy's own transaction), the message stayed counted and its copy was
// lost.
func TestCampaignFoldedKilledMidCommit(t *testing.T) {
	ctx := context.Background()
	srv := harness.StartPostgres(t)
	st, err := limits.OpenPostgres(ctx, srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sqldb.OpenPostgres(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := campaignKeys("killx", false)
	slices.Sort(keys)
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	// The last key in lock order: the commit has counted the message and
	// locked every other key when it waits.
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, "campaign:"+keys[len(keys)-1]); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cc := &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: keys, Account: "victim", Subject: "s", Time: now, Bands: 5}, Window: 15 * time.Minute, Threshold: 5}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		ok, _, err := commitCount(ctx, st, cc, "QK1")
		done <- result{ok, err}
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; {
		err := db.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> pg_backend_pid()`).Scan(&pid)
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("no commit waits for the key's lock: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err == nil {
		t.Fatalf("the commit whose backend was terminated returned admitted %v and no error", res.ok)
	}
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, "campaign:"+keys[len(keys)-1]); err != nil {
		t.Fatal(err)
	}
	left := func() (msgs int, recs, ckeys int) {
		u, _, err := st.Usage(ctx, "victim", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM msgs WHERE key = 'victim'), (SELECT COUNT(*) FROM campaign_keys WHERE account = 'victim')`).Scan(&recs, &ckeys); err != nil {
			t.Fatal(err)
		}
		return u.MessagesHour, recs, ckeys
	}
	if m, r, k := left(); m != 0 || r != 0 || k != 0 {
		t.Errorf("after the terminated commit: %d messages counted, %d records, %d campaign keys; want none", m, r, k)
	}
	cc.Done, cc.Result = false, limits.CampaignResult{}
	if ok, _, err := commitCount(ctx, st, cc, "QK2"); err != nil || !ok || !cc.Done {
		t.Fatalf("the next commit: %v %v done %v", ok, err, cc.Done)
	}
	if m, r, k := left(); m != 1 || r != 1 || k != len(keys) {
		t.Errorf("after the next commit: %d messages counted, %d records, %d campaign keys; want 1, 1, %d", m, r, k, len(keys))
	}
}
