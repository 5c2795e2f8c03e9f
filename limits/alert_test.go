package limits_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
)

// A suspension runs the alert command with the suspension as JSON on
// stdin (never in its arguments) and posts it to the webhook; with
// suspend_for it expires by itself.
func TestSuspensionAlertsAndExpiry(t *testing.T) {
	dir := t.TempDir()
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	posted := make(chan []byte, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posted <- b
	}))
	defer hook.Close()
	out := filepath.Join(dir, "alert.json")
	log := harness.Logger(t, &harness.LogBuffer{})
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 2}, nil)
	eng := &limits.Engine{
		Store: st, Policy: pol, Log: log, Now: time.Now, SuspendFor: time.Hour,
		Alert: &limits.Alerter{Sender: alert.Sender{Command: []string{"sh", "-c", `cat > "$0"`, out}, Webhook: hook.URL, Timeout: 5 * time.Second}, Log: log, Outbox: st},
	}
	// The courier delivers the outbox, as milterd runs it.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&limits.Courier{Store: st, Sender: eng.Alert.Sender, Log: log, Interval: 20 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	evs := []limits.Undeliverable{
		{ID: "a", Time: time.Now(), Rcpt: "x@y; rm -rf /", Status: "5.1.1", Source: "rcpt"},
		{ID: "b", Time: time.Now(), Rcpt: "z@y", Status: "5.1.1", Source: "rcpt"},
	}
	susp, err := eng.Undeliverable(context.Background(), "carol", evs)
	if err != nil || susp == nil {
		t.Fatalf("not suspended: %v", err)
	}
	var got limits.Alert
	select {
	case b := <-posted:
		if err := json.Unmarshal(b, &got); err != nil || got.Event != "suspended" || got.Account != "carol" || got.Suspension == nil || len(got.Suspension.Evidence) != 2 {
			t.Errorf("webhook got %s", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webhook not called")
	}
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
			if json.Unmarshal(b, &got) != nil || got.Suspension == nil || got.Suspension.Evidence[0].Rcpt != "x@y; rm -rf /" {
				t.Errorf("command got %s", b)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !susp.Active(time.Now()) || susp.Active(time.Now().Add(2*time.Hour)) {
		t.Errorf("suspend_for 1h: until %v", susp.Until)
	}
	// Two hours later the suspension has expired; new bounces suspend again.
	eng.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	later := []limits.Undeliverable{
		{ID: "c", Time: eng.Now(), Rcpt: "p@y", Status: "5.1.1", Source: "log"},
		{ID: "d", Time: eng.Now(), Rcpt: "q@y", Status: "5.1.1", Source: "log"},
	}
	if again, err := eng.Undeliverable(context.Background(), "carol", later); err != nil || again == nil || again.Evidence[0].Rcpt != "p@y" {
		t.Fatalf("after expiry: %+v %v", again, err)
	}
	// The alert runs the command, then posts: once posted, nothing more is
	// written into the test's directory.
	select {
	case <-posted:
	case <-time.After(5 * time.Second):
		t.Error("second suspension not alerted")
	}
}

// A follower catching up on a backlog (after a store outage) judges a burst
// by when it happened: ten bounces of three hours ago, within a minute of
// each other, still suspend the account.
func TestBacklogJudgedByEventTime(t *testing.T) {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 10}, nil)
	eng := &limits.Engine{Store: st, Policy: pol, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now}
	then := time.Now().Add(-3 * time.Hour)
	var evs []limits.Undeliverable
	for i := range 10 {
		evs = append(evs, limits.Undeliverable{ID: fmt.Sprint("old", i), Time: then.Add(time.Duration(i) * time.Second), Rcpt: fmt.Sprint(i, "@x"), Status: "5.1.1", Source: "log"})
	}
	if s, err := eng.Undeliverable(context.Background(), "dave", evs); err != nil || s == nil || len(s.Evidence) != 10 {
		t.Fatalf("a burst read late: %+v %v", s, err)
	}
}
