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

// TestFollowerCopytruncateAndPartialLines drives the follower with a log
// written by hand: a line written in two pieces, a copytruncate rotation,
// and smtpd's sasl_username line as the only source of the account.
func TestFollowerCopytruncateAndPartialLines(t *testing.T) {
	dir := t.TempDir()
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 100}, nil)
	log := harness.Logger(t, &harness.LogBuffer{})
	eng := &limits.Engine{Store: st, Policy: pol, Log: log, Now: time.Now}
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
