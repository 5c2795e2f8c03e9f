package limits_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// followerEngine is a limits engine on a SQLite store in dir (closed at
// the test's end) counting up to 100 undeliverables an hour.
func followerEngine(t *testing.T, dir string) *limits.Engine {
	t.Helper()
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 100}, nil)
	return &limits.Engine{Store: st, Policy: pol, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now}
}

// TestFollowerCopytruncateAndPartialLines drives the follower with a log
// written by hand: a line written in two pieces, a copytruncate rotation,
// and smtpd's sasl_username line as the only source of the account.
func TestFollowerCopytruncateAndPartialLines(t *testing.T) {
	dir := t.TempDir()
	eng := followerEngine(t, dir)
	st, log := eng.Store, eng.Log
	path := filepath.Join(dir, "maillog")
	f, _ := os.Create(path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&limits.Follower{Path: path, PosFile: filepath.Join(dir, "pos"), FromStart: true, Engine: eng, Log: log, Poll: 20 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	now := time.Now().Format(time.Stamp)
	bounce := func(qid, rcpt string) string {
		return fmt.Sprintf("%s h postfix/smtp[1]: %s: to=<%s>, relay=r, dsn=5.1.1, status=bounced (550 no)\n", now, qid, rcpt)
	}
	count := func(want int) {
		t.Helper()
		var evs []limits.Undeliverable
		for range 100 {
			evs, _ = st.Undeliverables(context.Background(), "carol", time.Now().Add(-time.Hour))
			if len(evs) >= want {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(evs) != want {
			t.Fatalf("counted %d, want %d", len(evs), want)
		}
	}
	f.WriteString(now + " h postfix/smtpd[2]: AAAAA1: client=c[192.0.2.1], sasl_method=PLAIN, sasl_username=carol\n")
	line := bounce("AAAAA1", "x1@remote.test")
	f.WriteString(line[:30])
	time.Sleep(100 * time.Millisecond) // the follower sees half a line
	f.WriteString(line[30:])
	f.WriteString(bounce("UNKNOWN1", "x2@remote.test")) // nobody's: ignored
	count(1)
	// copytruncate: the file is emptied in place and written from the start.
	f.Truncate(0)
	f.Seek(0, 0)
	f.WriteString(bounce("AAAAA1", "x3@remote.test"))
	count(2)
	f.WriteString(bounce("AAAAA1", "x3@remote.test")) // the same event again
	time.Sleep(200 * time.Millisecond)
	count(2)
}

// Sendmail names a session by its process id, and process ids come round
// again: a login holds for its own session's refusals only. Lines as real
// Sendmail 8.17 writes them.
func TestFollowerSendmailSessions(t *testing.T) {
	dir := t.TempDir()
	eng := followerEngine(t, dir)
	st, log := eng.Store, eng.Log
	path := filepath.Join(dir, "maillog")
	now := time.Now().Format(time.Stamp)
	refused := func(pid int, qid, rcpt, client string) string {
		return fmt.Sprintf("%s h sm-mta[%d]: %s: ruleset=check_rcpt, arg1=<%s>, relay=%s, reject=550 5.1.1 <%s>... no such user\n", now, pid, qid, rcpt, client, rcpt)
	}
	auth := func(pid int, user, client string) string {
		return fmt.Sprintf("%s h sm-mta[%d]: AUTH=server, relay=%s, authid=%s, mech=PLAIN, bits=0\n", now, pid, client, user)
	}
	a, b := "dsl1.example.net [192.0.2.1]", "dsl2.example.net [192.0.2.2]"
	lines := auth(100, "alice", a) +
		refused(100, "6AU8g9FM000100", "gone1@remote.test", a) + // alice's
		// The process id comes round for another client without a login.
		refused(100, "6AU9g9FM000100", "gone2@remote.test", b) +
		// ... for the same client, without a login: its message says so.
		fmt.Sprintf("%s h sm-mta[100]: 6AUAg9FM000100: from=<www@customer.test>, size=93, class=0, nrcpts=1, msgid=<x@c>, proto=ESMTP, daemon=MTA, relay=%s\n", now, a) +
		refused(100, "6AUBg9FM000100", "gone3@remote.test", a) +
		// A session that ends without MAIL.
		auth(101, "alice", a) +
		fmt.Sprintf("%s h sm-mta[101]: 6AUCg9FM000101: %s did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA\n", now, a) +
		refused(101, "6AUDg9FM000101", "gone4@remote.test", a) +
		// bob's own session on a reused id is his.
		auth(101, "bob", a) + refused(101, "6AUEg9FM000101", "gone5@remote.test", a)
	os.WriteFile(path, []byte(lines), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&limits.Follower{Path: path, PosFile: filepath.Join(dir, "pos"), FromStart: true, Engine: eng, Log: log, Poll: 20 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	var bob []limits.Undeliverable
	for i := 0; i < 100 && len(bob) == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		bob, _ = st.Undeliverables(context.Background(), "bob", time.Now().Add(-time.Hour))
	}
	alice, _ := st.Undeliverables(context.Background(), "alice", time.Now().Add(-time.Hour))
	if len(alice) != 1 || alice[0].Rcpt != "gone1@remote.test" || len(bob) != 1 || bob[0].Rcpt != "gone5@remote.test" {
		t.Errorf("alice charged %+v, bob %+v; want gone1 and gone5", alice, bob)
	}
}
