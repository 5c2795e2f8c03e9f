package limits_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
	"outguard/spam"
)

type downCheck struct{}

func (downCheck) Name() string { return "clamd" }
func (downCheck) CheckMessage(context.Context, *policy.Transaction) (policy.Verdict, error) {
	return policy.Verdict{}, errors.New("clamd: connection refused")
}

// One message rspamd classes "add header" by mistake (1 in 200 for normal
// users), while clamd is down (on_error: tempfail, the default): every
// retry of the customer's own MTA is counted again toward spam_per_hour,
// and 11 retries within the hour suspend the account for one message.
func TestReviewSpamRetriesOfOneMessageCountedOnce(t *testing.T) {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, _ := limits.NewPolicy(exampleLimits, nil)
	log := harness.Logger(t, &harness.LogBuffer{})
	eng := &limits.Engine{Store: st, Policy: pol, OnSuspended: policy.Reject, Log: log, Now: time.Now}
	rspamd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"action":"add header","score":6.2,"required_score":15,"symbols":{}}`)
	}))
	defer rspamd.Close()
	sc := spam.New(spam.Options{URL: rspamd.URL, Counter: eng, Log: log, Actions: map[string]policy.Action{
		"reject": policy.Reject, "soft reject": policy.Tempfail, "rewrite subject": policy.Quarantine, "add header": policy.Accept, "greylist": policy.Accept, "no action": policy.Accept}})
	p := policy.NewPipeline(log, policy.Entry{Check: eng, OnError: policy.Tempfail}, policy.Entry{Check: sc, OnError: policy.Tempfail}, policy.Entry{Check: downCheck{}, OnError: policy.Tempfail})
	msg := "From: <dave@customer.test>\r\nTo: <x@remote.test>\r\nMessage-ID: <one@customer.test>\r\nSubject: invoice\r\n\r\nHi\r\n"
	ctx := context.Background()
	for i := range 11 {
		tx := &policy.Transaction{ID: fmt.Sprint("try", i), User: "dave", From: "dave@customer.test", Rcpts: []string{"x@remote.test"},
			Headers: []policy.Header{{Name: "From", Value: "<dave@customer.test>"}, {Name: "Message-Id", Value: " <one@customer.test>"}},
			Conn:    policy.Conn{Addr: netip.MustParseAddr("127.0.0.7"), Helo: "exchange.customer.test"}, QueueID: fmt.Sprintf("QQQQ%d", i)}
		if v := p.Mail(ctx, tx); v.Action != policy.Accept {
			t.Fatalf("try %d: MAIL %v", i, v)
		}
		p.Rcpt(ctx, tx, "x@remote.test")
		p.Open(ctx, tx)
		p.Write(tx, []byte(msg))
		tx.Message = bytes.NewReader([]byte(msg))
		v := p.Message(ctx, tx)
		p.Close(tx)
		if v.Action != policy.Tempfail {
			t.Fatalf("try %d: %v, want tempfail (clamd down)", i, v.Action)
		}
	}
	all, _ := st.Suspensions(ctx)
	if len(all) != 0 {
		t.Errorf("dave suspended for one message retried after a tempfail: %s", all[0].Reason)
	}
}

// The other side: a spammer reusing one Message-ID for every message to
// other recipients is still counted once per message, and suspended.
func TestReviewSpamOneMessageIDManyRecipientsStillSuspends(t *testing.T) {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, _ := limits.NewPolicy(exampleLimits, nil)
	eng := &limits.Engine{Store: st, Policy: pol, OnSuspended: policy.Reject, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now}
	ctx := context.Background()
	for i := range 11 {
		tx := &policy.Transaction{ID: fmt.Sprint("m", i), User: "mallory", From: "m@customer.test", Rcpts: []string{fmt.Sprintf("v%d@remote.test", i)},
			Headers: []policy.Header{{Name: "Message-ID", Value: "<same@x>"}}}
		if err := eng.CountSpam(ctx, tx, "add header"); err != nil {
			t.Fatal(err)
		}
	}
	if all, _ := st.Suspensions(ctx); len(all) != 1 {
		t.Errorf("%d suspensions after 11 spam messages with one Message-ID, want 1", len(all))
	}
}
