package limits_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// Review of the campaign count folded into the end-of-message commit
// (campaignfold.go) under faults, on the real stores: a reply lost after
// the store ran the commit, a Redis that hangs (SIGSTOP) or is killed
// (SIGKILL, with and without persistence), an SQLite file whose write
// lock another connection holds, a process killed while it writes an
// SQLite file, and eight hosts committing copies at the threshold.

// foldCopy commits one message of account with its campaign copy of text
// (threshold accounts within 15 minutes, suspending), as the limits
// engine's commit does with the copy the campaign engine built. A store
// that answers folds the copy (Done).
func foldCopy(ctx context.Context, st limits.Store, account, text, qid string, threshold int, now time.Time) (*limits.CampaignCount, bool, error) {
	cc := &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Subject: "s", Time: now, Bands: 5, Suspend: true},
		Window: 15 * time.Minute, Threshold: threshold}
	_, ok, _, _, err := st.CommitMessage(ctx, account, limits.Sent{Host: "mx", QueueID: qid, Rcpts: []string{"r@remote.test"}, Time: now, Campaign: cc}, limits.Limits{}, nil, now)
	if err == nil && !cc.Done {
		err = fmt.Errorf("%s: the store answered without counting the copy", account)
	}
	return cc, ok, err
}

// theCampaign is the one campaign seen since since with its accounts'
// copies; nil when there is none.
func theCampaign(ctx context.Context, t *testing.T, st limits.Store, since time.Time) (*limits.Campaign, map[string]int) {
	t.Helper()
	cs := st.(limits.CampaignStore)
	list, err := cs.Campaigns(ctx, since, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	if len(list) > 1 {
		t.Fatalf("%d campaigns, want one: %+v", len(list), list)
	}
	c, err := cs.CampaignByID(ctx, list[0].ID)
	if err != nil || c == nil {
		t.Fatalf("campaign %s: %v %v", list[0].ID, c, err)
	}
	copies := map[string]int{}
	for _, a := range c.Accounts {
		copies[a.Account] = a.Copies
	}
	return c, copies
}

// copies0 is c's copies, 0 for no campaign.
func copies0(c *limits.Campaign) int {
	if c == nil {
		return 0
	}
	return c.Copies
}

// messages is how many of account's messages the store counted.
func messages(ctx context.Context, t *testing.T, st limits.Store, account string) int {
	t.Helper()
	u, _, err := st.Usage(ctx, account, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u.MessagesHour
}

// replyLoser is a loopback TCP relay to a real server that loses one
// reply: once a client's bytes hold the armed marker, the server's next
// bytes on that connection are dropped and both sides closed, as when
// the network fails after the server ran the command and before its
// answer arrived.
type replyLoser struct {
	Addr   string
	mu     sync.Mutex
	marker []byte
	lost   atomic.Int64
}

func loseReplies(t *testing.T, upstream string) *replyLoser {
	r := &replyLoser{}
	r.Addr = relayTo(t, upstream, func(down, up net.Conn) {
		var doomed atomic.Bool
		go forward(up, down, func(b []byte) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.marker != nil && bytes.Contains(b, r.marker) {
				r.marker = nil
				doomed.Store(true)
			}
			return true
		})
		go forward(down, up, func([]byte) bool {
			if doomed.Load() {
				r.lost.Add(1)
				return false
			}
			return true
		})
	})
	return r
}

// arm loses the reply to the next request that holds marker.
func (r *replyLoser) arm(marker string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marker = []byte(marker)
}

// A reply lost after the store ran a message's commit (a relay drops the
// connection once the server answered): the commit returns an error (the
// engine's on_error: tempfail), the store has counted the message and its
// copy, and the client's retry (same account, same text) counts again.
// What holds, on Redis and PostgreSQL (docs/suspension.md, "Known
// limits"): the retry adds no distinct account, so a campaign is never
// established with fewer distinct accounts than configured (one account's
// lost copy and its retry, then a second account: no campaign at a
// threshold of 3); an account whose own text is no campaign is not held
// on its retry; a lost copy that crossed the threshold established the
// campaign with exactly the accounts that sent it and marked exactly them
// pending, and the retry of that copy is Known (held) with no account
// added. The copy count grows by one per lost reply.
func TestFoldLostReply(t *testing.T) {
	ctx := context.Background()
	rd := harness.StartRedis(t)
	pg := harness.StartPostgres(t)
	type pair struct {
		via, direct limits.Store
		loser       *replyLoser
	}
	stores := map[string]pair{}
	{
		l := loseReplies(t, rd.Addr)
		direct, err := limits.OpenRedis(ctx, rd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { direct.Close() })
		via, err := limits.OpenRedis(ctx, l.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { via.Close() })
		stores["redis"] = pair{via, direct, l}
	}
	{
		l := loseReplies(t, fmt.Sprintf("127.0.0.1:%d", pg.Port))
		direct, err := limits.OpenPostgres(ctx, pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { direct.Close() })
		via, err := limits.OpenPostgres(ctx, fmt.Sprintf("host=127.0.0.1 port=%s user=postgres dbname=postgres sslmode=disable", port(t, l.Addr)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { via.Close() })
		stores["postgres"] = pair{via, direct, l}
	}
	for name, p := range stores {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			since := now.Add(-time.Minute)
			qid := 0
			send := func(acct, text string, lose bool) (*limits.CampaignCount, error) {
				t.Helper()
				qid++
				if lose {
					p.loser.arm(acct)
				}
				before := p.loser.lost.Load()
				cc, ok, err := foldCopy(ctx, p.via, acct, text, fmt.Sprint("LQ", qid), 3, now)
				if lose != (p.loser.lost.Load() > before) {
					t.Fatalf("%s: a reply lost: %v, want %v", acct, !lose, lose)
				}
				if err == nil && !ok {
					t.Fatalf("%s: not admitted", acct)
				}
				return cc, err
			}
			// The server ran the lost commit: its count shows (a relay
			// that lost the request instead would count nothing).
			counted := func(acct string, want int) {
				t.Helper()
				for i := 0; messages(ctx, t, p.direct, acct) != want; i++ {
					if i > 200 {
						t.Fatalf("%s: %d messages counted, want %d", acct, messages(ctx, t, p.direct, acct), want)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			lost := func(acct, text string) {
				t.Helper()
				cc, err := send(acct, text, true)
				if err == nil || cc.Done {
					t.Fatalf("%s: the commit whose reply was lost returned done %v, %v", acct, cc.Done, err)
				}
			}
			// The scripts loaded, the statements prepared: the request
			// whose reply is lost is the commit's own.
			if _, err := send("lr-warm", "warmx", false); err != nil {
				t.Fatal(err)
			}
			// An account's own text, its reply lost, then retried: the
			// retry is no campaign, nothing held, nothing pending.
			lost("lr-inn", "ownx")
			counted("lr-inn", 1)
			cc, err := send("lr-inn", "ownx", false)
			if err != nil || cc.Result.ID != "" || len(cc.Result.Pending) != 0 {
				t.Fatalf("the innocent account's retry: %+v %v", cc.Result, err)
			}
			counted("lr-inn", 2) // the limits count the message twice
			// a1's reply lost and retried, a2 sends: two distinct accounts
			// at a threshold of 3, no campaign.
			lost("lr-a1", "phishx")
			counted("lr-a1", 1)
			for _, acct := range []string{"lr-a1", "lr-a2"} {
				if cc, err := send(acct, "phishx", false); err != nil || cc.Result.ID != "" {
					t.Fatalf("%s: %+v %v: a campaign from fewer distinct accounts than the threshold", acct, cc.Result, err)
				}
			}
			if c, _ := theCampaign(ctx, t, p.direct, since); c != nil {
				t.Fatalf("a campaign of two accounts: %+v", c)
			}
			// a3's copy crosses, its reply lost: the store established
			// the campaign with a1, a2, a3 and marked exactly them pending.
			lost("lr-a3", "phishx")
			counted("lr-a3", 1)
			c, copies := theCampaign(ctx, t, p.direct, since)
			if c == nil || len(copies) != 3 || copies["lr-a1"] != 1 || copies["lr-a2"] != 1 || copies["lr-a3"] != 1 || c.Copies != 3 || c.Held != 0 {
				t.Fatalf("after the lost crossing copy: %+v, copies %v; want a1, a2, a3 once each, 3 copies, none held", c, copies)
			}
			probe, err := p.direct.(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: []string{"t1probe"}, Account: "probe", Time: now, Bands: 5}, 15*time.Minute, 3)
			if err != nil {
				t.Fatal(err)
			}
			var pending []string
			for _, ps := range probe.Pending {
				if ps.ID != c.ID {
					t.Errorf("pending %+v of another campaign", ps)
				}
				pending = append(pending, ps.Account)
			}
			slices.Sort(pending)
			if !slices.Equal(pending, []string{"lr-a1", "lr-a2", "lr-a3"}) {
				t.Errorf("pending suspensions %v, want a1, a2, a3", pending)
			}
			// The retry: Known (held), no account added, the copy counted
			// again.
			cc, err = send("lr-a3", "phishx", false)
			if err != nil || !cc.Result.Known || cc.Result.ID != c.ID || len(cc.Result.Accounts) != 3 {
				t.Fatalf("the crossing copy's retry: %+v %v", cc.Result, err)
			}
			counted("lr-a3", 2)
			c, copies = theCampaign(ctx, t, p.direct, since)
			if len(copies) != 3 || copies["lr-a3"] != 2 || c.Copies != 4 || c.Held != 1 {
				t.Errorf("after the retry: %+v, copies %v; want 3 accounts, a3's 2 copies, 4 in all, 1 held", c, copies)
			}
			t.Logf("a lost crossing copy and its retry: campaign %s, %d accounts, %d copies (%d held), the retry Known", c.ID, len(copies), c.Copies, c.Held)
		})
	}
}

// Redis hangs (SIGSTOP) while a message's commit with the copy that
// crosses the threshold waits for it: the commit times out (RedisOptions.
// Timeout, the engine's on_error). The client had sent the script:
// resumed, Redis runs it (a reply lost after the script ran). Either
// way, once the client retries, the campaign lists exactly the three
// accounts that sent it, and the account's messages counted equal its
// copies counted: the count and the copy are one script.
func TestFoldRedisPaused(t *testing.T) {
	ctx := context.Background()
	rd := harness.StartRedis(t)
	st, err := limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: rd.Addr, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i, acct := range []string{"p1", "p2"} {
		if cc, ok, err := foldCopy(ctx, st, acct, "pausex", fmt.Sprint("PQ", i), 3, now); err != nil || !ok || cc.Result.ID != "" {
			t.Fatalf("%s: %v %+v %v", acct, ok, cc.Result, err)
		}
	}
	rd.Pause()
	// Resumed in 3 s at the latest: a commit that waited for it would
	// return then, admitted.
	resume := time.AfterFunc(3*time.Second, rd.Resume)
	start := time.Now()
	cc, ok, err := foldCopy(ctx, st, "p3", "pausex", "PQ3", 3, now)
	took := time.Since(start)
	resume.Stop()
	rd.Resume()
	if err == nil || cc.Done {
		t.Fatalf("the commit to a paused Redis: admitted %v, done %v, %v", ok, cc.Done, err)
	}
	// What the paused server does with the script it had received: give
	// it time to run.
	var ran int
	for i := 0; i < 50; i++ {
		if ran = messages(ctx, t, st, "p3"); ran > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the commit timed out after %v; resumed, Redis ran it: %v", took.Round(time.Millisecond), ran == 1)
	if cc, ok, err = foldCopy(ctx, st, "p3", "pausex", "PQ4", 3, now); err != nil || !ok || cc.Result.ID == "" || cc.Result.Known != (ran == 1) {
		t.Fatalf("the retry: admitted %v, %+v, %v (the timed-out script ran: %v)", ok, cc.Result, err, ran == 1)
	}
	c, copies := theCampaign(ctx, t, st, now.Add(-time.Minute))
	if len(copies) != 3 || copies["p1"] != 1 || copies["p2"] != 1 {
		t.Fatalf("campaign %+v, copies %v: want p1, p2, p3", c, copies)
	}
	if m := messages(ctx, t, st, "p3"); m != copies["p3"] || m != ran+1 {
		t.Errorf("p3: %d messages counted, %d copies; want %d of each", m, copies["p3"], ran+1)
	}
}

// foldLoad commits one message per account (prefix and a number) with a
// copy of one text from workers at once until stop is closed or a commit
// fails; it returns the accounts admitted and those whose commit failed
// (in flight when the store went away).
func foldLoad(ctx context.Context, st limits.Store, prefix string, workers int, stop <-chan struct{}, admitted *atomic.Int64) (ok, failed []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				acct := fmt.Sprint(prefix, w, "-", i)
				_, admit, err := foldCopy(ctx, st, acct, "loadx", "Q"+acct, 5, time.Now())
				mu.Lock()
				if err != nil || !admit {
					failed = append(failed, acct)
					mu.Unlock()
					return
				}
				ok = append(ok, acct)
				admitted.Add(1)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, failed
}

// redis-server is killed (SIGKILL) in the middle of a load of commits
// with campaign copies, then started again on its directory. With an
// append-only file (fsynced before each reply, or every second: a killed
// process loses nothing it wrote to the file), every account whose commit
// returned is counted and listed in the campaign, once; an account whose
// commit failed at the kill is counted and listed both or neither (the
// count and the copy are one script: its effects are one transaction in
// the file); the campaign's copies are the accounts counted, and no
// account is counted that no commit sent. Without persistence the
// restarted server holds nothing (every campaign starts again: counted
// too few, never too many). Either way the next commit is served.
func TestFoldRedisKilledMidLoad(t *testing.T) {
	ctx := context.Background()
	for _, fsync := range []string{"always", "everysec", ""} {
		persist := fsync != ""
		t.Run("appendfsync="+fsync, func(t *testing.T) {
			var rd *harness.Redis
			if persist {
				rd = harness.StartRedisPersistent(t, fsync)
			} else {
				rd = harness.StartRedis(t)
			}
			st, err := limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: rd.Addr, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			stop := make(chan struct{})
			var admitted atomic.Int64
			var ok, failed []string
			done := make(chan struct{})
			go func() {
				ok, failed = foldLoad(ctx, st, "k", 4, stop, &admitted)
				close(done)
			}()
			for admitted.Load() < 150 {
				select {
				case <-done:
					t.Fatalf("the load ended before the kill: %d admitted, failed %v", len(ok), failed)
				case <-time.After(time.Millisecond):
				}
			}
			rd.Kill()
			close(stop)
			<-done
			rd.Restart()
			var st2 limits.Store
			for i := 0; ; i++ { // LOADING while it reads its file
				if st2, err = limits.OpenRedis(ctx, rd.Addr); err == nil {
					break
				}
				if i > 300 {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			defer st2.Close()
			c, copies := theCampaign(ctx, t, st2, time.Now().Add(-time.Hour))
			if !persist {
				if c != nil {
					t.Errorf("a Redis without persistence kept campaign %+v", c)
				}
				for _, a := range ok {
					if m := messages(ctx, t, st2, a); m != 0 {
						t.Fatalf("%s: %d messages counted by a Redis without persistence", a, m)
					}
				}
			} else {
				n := 0
				for _, a := range append(slices.Clone(ok), failed...) {
					m := messages(ctx, t, st2, a)
					inOK := slices.Contains(ok, a)
					switch {
					case inOK && (m != 1 || copies[a] != 1):
						t.Errorf("%s: admitted; after the restart %d messages, %d copies; want 1 and 1", a, m, copies[a])
					case !inOK && (m > 1 || copies[a] != m):
						t.Errorf("%s: failed at the kill; after the restart %d messages, %d copies: want 0 or 1 of both", a, m, copies[a])
					}
					n += m
				}
				if c == nil || len(copies) != n || c.Copies != n {
					t.Errorf("campaign %v: %d accounts, %d copies; want %d of each", c != nil, len(copies), copies0(c), n)
				}
				t.Logf("%d admitted before the kill, %d failed at it; %d counted after the restart", len(ok), len(failed), n)
			}
			for a := range copies {
				if !slices.Contains(ok, a) && !slices.Contains(failed, a) {
					t.Errorf("%s listed in the campaign; no commit sent it", a)
				}
			}
			cc, admit, err := foldCopy(ctx, st2, "after", "loadx", "QA", 5, time.Now())
			if err != nil || !admit || cc.Result.Known != persist {
				t.Errorf("the first commit after the restart: admitted %v %+v %v; want Known %v", admit, cc.Result, err, persist)
			}
		})
	}
}

// Another connection holds the SQLite file's write lock (BEGIN
// IMMEDIATE, as milterctl's writes or a second milterd) while a message's
// commit with its copy waits for it, past the commit's deadline (1 s) or
// past SQLite's busy timeout (10 s, before a deadline of 30 s): the
// commit returns an error (on_error: tempfail) and has written nothing,
// neither the message's count nor a campaign key; once the lock is free
// the next commit counts both, once.
func TestFoldSQLiteLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := limits.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, deadline := range []time.Duration{time.Second, 30 * time.Second} {
		t.Run(deadline.String(), func(t *testing.T) {
			acct := "locked" + deadline.String()
			holder, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Close()
			left := func() (keys int) {
				t.Helper()
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM campaign_keys WHERE account = $1`, acct).Scan(&keys); err != nil {
					t.Fatal(err)
				}
				return keys
			}
			if _, err := holder.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(ctx, deadline)
			start := time.Now()
			cc, ok, err := foldCopy(cctx, st, acct, "lockx", acct+"1", 2, time.Now())
			took := time.Since(start)
			cancel()
			if _, rerr := holder.ExecContext(ctx, `ROLLBACK`); rerr != nil {
				t.Fatal(rerr)
			}
			t.Logf("the commit waiting for the write lock returned after %v: %v", took.Round(time.Millisecond), err)
			if err == nil || ok || cc.Done {
				t.Fatalf("the commit that did not get the write lock: admitted %v, done %v, %v", ok, cc.Done, err)
			}
			if m, k := messages(ctx, t, st, acct), left(); m != 0 || k != 0 {
				t.Fatalf("after the refused commit: %d messages counted, %d campaign keys; want none", m, k)
			}
			if _, ok, err = foldCopy(ctx, st, acct, "lockx", acct+"2", 2, time.Now()); err != nil || !ok {
				t.Fatalf("the next commit: %v %v", ok, err)
			}
			if m, k := messages(ctx, t, st, acct), left(); m != 1 || k != len(campaignKeys("lockx", false)) {
				t.Fatalf("after the next commit: %d messages counted, %d campaign keys; want 1 and %d", m, k, len(campaignKeys("lockx", false)))
			}
		})
	}
}

// foldKillEnv names the SQLite file a child of TestFoldSQLiteKilledMidWrite
// commits to, and foldKillFrom its first account's number.
const foldKillEnv, foldKillFrom = "OG_FOLD_KILL_DB", "OG_FOLD_KILL_FROM"

// A process committing messages with campaign copies to an SQLite file
// in a loop is killed (SIGKILL) four times, each time at a moment of the
// loop (nearly always inside a transaction: the loop does nothing else).
// The file stays consistent (integrity_check), every account whose commit
// returned is counted once and listed in the campaign, the one in flight
// both or neither, and the campaign's copies are the accounts counted.
func TestFoldSQLiteKilledMidWrite(t *testing.T) {
	if path := os.Getenv(foldKillEnv); path != "" {
		foldKillChild(path)
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	admitted := map[string]bool{}
	var inFlight []string
	from := 0
	for kill := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFoldSQLiteKilledMidWrite$", "-test.count=1")
		cmd.Env = append(os.Environ(), foldKillEnv+"="+path, foldKillFrom+"="+strconv.Itoa(from))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// A pipe of our own: cmd.StdoutPipe's is closed by Wait (which
		// harness.Start calls) before the lines written before the
		// kill are read.
		out, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = w
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		exited := harness.Start(t, cmd)
		w.Close()
		sc := bufio.NewScanner(out)
		var last string
		n := 0
		for sc.Scan() {
			what, acct, _ := strings.Cut(sc.Text(), " ")
			switch what {
			case "attempt":
				last = acct
			case "admitted":
				admitted[acct] = true
				if n++; n == 20 {
					syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
				}
			case "failed":
				t.Fatalf("child: %s\n%s", acct, stderr.String())
			}
		}
		out.Close()
		<-exited
		if n < 20 {
			t.Fatalf("kill %d: the child admitted %d messages and exited:\n%s", kill, n, stderr.String())
		}
		if !admitted[last] {
			inFlight = append(inFlight, last)
		}
		t.Logf("kill %d: the last commit attempted %s, admitted %v", kill, last, admitted[last])
		from += 100000
	}
	st, err := limits.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	c, copies := theCampaign(ctx, t, st, time.Now().Add(-time.Hour))
	n := 0
	for a := range admitted {
		if m := messages(ctx, t, st, a); m != 1 || copies[a] != 1 {
			t.Errorf("%s: admitted; %d messages counted, %d copies; want 1 and 1", a, m, copies[a])
		}
		n++
	}
	for _, a := range inFlight {
		m := messages(ctx, t, st, a)
		if m > 1 || copies[a] != m {
			t.Errorf("%s: killed in flight; %d messages counted, %d copies: want 0 or 1 of both", a, m, copies[a])
		}
		n += m
	}
	if c == nil || len(copies) != n || c.Copies != n {
		t.Errorf("campaign %v: %d accounts, %d copies; want %d of each", c != nil, len(copies), copies0(c), n)
	}
	t.Logf("4 kills: %d admitted, %d in flight (%v), %d counted", len(admitted), len(inFlight), inFlight, n)
}

// foldKillChild commits a message with a copy for one new account after
// another until it is killed, saying on stdout which it attempts and
// which were admitted.
func foldKillChild(path string) {
	ctx := context.Background()
	st, err := limits.OpenSQLite(path)
	if err != nil {
		fmt.Println("failed", err)
		os.Exit(1)
	}
	from, _ := strconv.Atoi(os.Getenv(foldKillFrom))
	for i := from; ; i++ {
		acct := fmt.Sprint("s", i)
		fmt.Println("attempt", acct)
		_, ok, err := foldCopy(ctx, st, acct, "killx", "Q"+acct, 5, time.Now())
		if err != nil || !ok {
			fmt.Println("failed", acct, ok, err)
			os.Exit(1)
		}
		fmt.Println("admitted", acct)
	}
}

// Eight hosts, each its own client of the store, commit a copy of one
// campaign from eight distinct accounts at once against a threshold of 5,
// round after round, on every store: exactly five copies are admitted
// before the campaign is Known (four counted, the fifth establishes it
// with five accounts), the other three are Known, and the campaign lists
// all eight accounts, eight copies.
func TestFoldEightHostsAtThreshold(t *testing.T) {
	const hosts, threshold, rounds = 8, 5, 20
	ctx := context.Background()
	for name, open := range storeOpeners(t) {
		t.Run(name, func(t *testing.T) {
			sts := openClients(t, open, hosts)
			now := time.Now()
			for round := range rounds {
				text := fmt.Sprint("eight", round, "x")
				var news, known, none atomic.Int64
				start := make(chan struct{})
				var wg sync.WaitGroup
				for h := range hosts {
					wg.Go(func() {
						<-start
						acct := fmt.Sprint("e", round, "h", h)
						cc, ok, err := foldCopy(ctx, sts[h], acct, text, "Q"+acct, threshold, now)
						switch {
						case err != nil || !ok:
							t.Errorf("%s: admitted %v, %v", acct, ok, err)
						case cc.Result.New:
							news.Add(1)
							if len(cc.Result.Accounts) != threshold {
								t.Errorf("round %d: established with %v", round, cc.Result.Accounts)
							}
						case cc.Result.Known:
							known.Add(1)
						default:
							none.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if news.Load() != 1 || known.Load() != hosts-threshold || none.Load() != threshold-1 {
					t.Fatalf("round %d: %d new, %d known, %d none; want 1, %d, %d", round, news.Load(), known.Load(), none.Load(), hosts-threshold, threshold-1)
				}
				list, err := sts[0].(limits.CampaignStore).Campaigns(ctx, now.Add(-time.Minute), 100)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != round+1 {
					t.Fatalf("round %d: %d campaigns", round, len(list))
				}
			}
			list, err := sts[0].(limits.CampaignStore).Campaigns(ctx, now.Add(-time.Minute), 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range list {
				full, err := sts[1].(limits.CampaignStore).CampaignByID(ctx, c.ID)
				if err != nil || full == nil || len(full.Accounts) != hosts || full.Copies != hosts || full.Held != hosts-threshold {
					t.Errorf("campaign %s: %+v %v; want %d accounts and copies, %d held", c.ID, full, err, hosts, hosts-threshold)
				}
			}
		})
	}
}
