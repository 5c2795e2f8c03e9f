package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
)

// PostgreSQL (limits and quarantine) stops answering (SIGSTOP to the
// server and its backends: connections stay open, nothing is answered) in
// the middle of a burst of messages, a third of them to be held, and goes
// on 14 s later, past Postfix's milter timeouts (10 s here). Every message
// is answered by milterd within its deadlines (the store timeout at MAIL,
// commit_timeout for the count and the hold), well inside them:
// tempfailed, accepted or held. After the
// server wakes, no entry is committed for a message that was tempfailed
// (its session over, the client retries), and none is held twice.
// Before: nothing bounded a wait on PostgreSQL at MAIL or for the hold,
// the MTA's milter timeout answered instead, and holds in flight
// committed when the server woke.
func TestPostgresStalledMidBurst(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	yaml := fmt.Sprintf("message_timeout: 3s\ncommit_timeout: 2s\npostgres: {dsn: %q, statement_timeout: 2s, lock_timeout: 1s, connect_timeout: 2s}\n"+
		"quarantine: {store: postgres}\nrules: {dir: %s, watch: false}\nlimits: {store: postgres, default: {messages_per_hour: 0, messages_per_day: 0, recipients_per_hour: 0, recipients_per_day: 0}}\n", pg.DSN, holdRules(t))
	s, _, res := harness.ConfigStack(t, yaml, harness.MTAConfig{Main: map[string]string{
		"smtpd_client_connection_count_limit": "0", "milter_command_timeout": "10s", "milter_content_timeout": "10s"}})
	type result struct {
		subject string
		hold    bool
		reply   string
		took    time.Duration
		stalled bool // sent while the server was stopped
	}
	var mu sync.Mutex
	var results []result
	var paused, resumed, stop = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		time.Sleep(2 * time.Second)
		pg.Pause()
		close(paused)
		time.Sleep(14 * time.Second) // past the MTA's milter timeouts
		pg.Resume()
		close(resumed)
		time.Sleep(2 * time.Second)
		close(stop)
	}()
	isClosed := func(c chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; !isClosed(stop); i++ {
				subject := fmt.Sprintf("w%d-m%d", w, i)
				hold := i%3 == 0
				var extra []string
				if hold {
					extra = append(extra, "X-Test-Hold: yes")
				}
				stalled := isClosed(paused) && !isClosed(resumed)
				start := time.Now()
				c := s.Dial(t)
				r := c.Send("alice@customer.test", []string{"v@remote.test"}, harness.Msg("alice@customer.test", "v@remote.test", subject, "hello", extra...))
				c.Quit()
				mu.Lock()
				results = append(results, result{subject, hold, harness.Reply(r.Err), time.Since(start), stalled})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	time.Sleep(3 * time.Second) // a late commit would land now

	entries, stored := heldSubjects(t, res.Quarantine)
	var held, tempfailed, stalledSent int
	var longest time.Duration
	for _, r := range results {
		longest = max(longest, r.took)
		if r.stalled {
			stalledSent++
		}
		// The waits: 2s at MAIL, or 2s for the count or the hold; the
		// MTA's own timeouts are 10s.
		if r.took > 8*time.Second {
			t.Errorf("%s: answered after %v (%s)", r.subject, r.took, r.reply)
		}
		switch {
		case entries[r.subject] > 1:
			t.Errorf("%s: held %d times", r.subject, entries[r.subject])
		case r.reply == "250" && r.hold:
			held++
			if entries[r.subject] != 1 {
				t.Errorf("%s: accepted to be held, but not in the quarantine", r.subject)
			}
		case r.reply == "250":
		case strings.HasPrefix(r.reply, "451 4."):
			tempfailed++
			if entries[r.subject] != 0 {
				t.Errorf("%s: tempfailed (%s), but its entry was committed", r.subject, r.reply)
			}
		default:
			t.Errorf("%s: %q", r.subject, r.reply)
		}
	}
	t.Logf("%d messages, %d sent while stopped, %d held, %d tempfailed; the longest answer took %v", len(results), stalledSent, held, tempfailed, longest)
	if stored != held {
		t.Errorf("%d entries for %d messages accepted to be held", stored, held)
	}
	if tempfailed == 0 || stalledSent == 0 {
		t.Errorf("the stop was not seen: %d tempfailed, %d sent while stopped", tempfailed, stalledSent)
	}
}
