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

// exampleLimits are etc/milterd.example.yaml's limits.default.
var exampleLimits = limits.Limits{
	MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000,
	UndeliverablePerHour: 10, RefusedMessagesPerHour: 20,
	NetworksPerHour: 12, CountriesPerHour: 4, ASNsPerHour: 6, SpamPerHour: 10,
}

// followOnce feeds lines to a follower over a real SQLite store after
// records of messages sent (queue id -> recipients) by account key, and
// returns the store once the follower has read every line.
func followOnce(t *testing.T, key string, sent map[string][]string, lines string) limits.Store {
	t.Helper()
	dir := t.TempDir()
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pol, _ := limits.NewPolicy(exampleLimits, nil)
	log := harness.Logger(t, &harness.LogBuffer{})
	eng := &limits.Engine{Store: st, Policy: pol, Log: log, Now: time.Now}
	ctx := context.Background()
	for qid, rcpts := range sent {
		if _, _, err := st.Admit(ctx, key, limits.Sent{QueueID: qid, Rcpts: rcpts, Time: time.Now()}, exampleLimits, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "maillog")
	lines += time.Now().Format(time.Stamp) + " h postfix/smtpd[9]: ZZZZZ9: client=c[192.0.2.9], sasl_method=PLAIN, sasl_username=marker\n"
	os.WriteFile(path, []byte(lines), 0o644)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	f := &limits.Follower{Path: path, PosFile: filepath.Join(dir, "pos"), FromStart: true, Engine: eng, Log: log, Poll: 10 * time.Millisecond}
	go func() { f.Run(rctx); close(done) }()
	for i := 0; i < 300 && f.Lag() != 0 || i < 20; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	return st
}

func suspended(t *testing.T, st limits.Store, key string) *limits.Suspension {
	t.Helper()
	all, err := st.Suspensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range all {
		if all[i].Key == key {
			return &all[i]
		}
	}
	return nil
}

// A customer writes once to the 12 members of a club whose mail server
// refuses the smarthost at its greeting (a blocklist, a misconfigured
// MX): Postfix logs one bounced line per recipient with dsn=5.0.0.
func TestReviewGreetingRefusalSuspendsNobody(t *testing.T) {
	now := time.Now().Format(time.Stamp)
	var rcpts []string
	lines := now + " h postfix/smtpd[2]: AAAAA1: client=c[192.0.2.1], sasl_method=PLAIN, sasl_username=carol\n"
	for i := range 12 {
		r := fmt.Sprintf("member%d@club.test", i)
		rcpts = append(rcpts, r)
		lines += fmt.Sprintf("%s h postfix/smtp[3]: AAAAA1: to=<%s>, relay=mx.club.test[192.0.2.7]:25, delay=1, delays=0/0/1/0, dsn=5.0.0, status=bounced (host mx.club.test[192.0.2.7] refused to talk to me: 554 mx.club.test ESMTP not accepting messages)\n", now, r)
	}
	st := followOnce(t, "carol", map[string][]string{"AAAAA1": rcpts}, lines)
	if s := suspended(t, st, "carol"); s != nil {
		t.Errorf("carol suspended for one message refused at the greeting: %s", s.Reason)
	}
	ref, _ := st.Refused(context.Background(), "carol", time.Now().Add(-time.Hour))
	if len(ref) != 1 {
		t.Errorf("%d refused messages counted, want 1", len(ref))
	}
}

// A customer writes once to the 12 members of a club whose mail server is
// down (or greylists longer than the queue lifetime): qmgr expires the
// message. The receiver refused nothing; one message to one domain is no
// evidence of 12 bad addresses.
func TestReviewExpiryOfOneMessageToOneDomainSuspendsNobody(t *testing.T) {
	now := time.Now().Format(time.Stamp)
	var rcpts []string
	for i := range 12 {
		rcpts = append(rcpts, fmt.Sprintf("member%d@club.test", i))
	}
	lines := now + " h postfix/qmgr[4]: BBBBB1: from=<carol@isp.test>, status=expired, returned to sender\n"
	st := followOnce(t, "carol", map[string][]string{"BBBBB1": rcpts}, lines)
	if s := suspended(t, st, "carol"); s != nil {
		t.Errorf("carol suspended for one message that expired: %s", s.Reason)
	}
}
