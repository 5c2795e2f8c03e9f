package limits_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
)

// Review of #29: milterd stops (SIGTERM) while limit alerts wait in the
// Alerter's buffer for a stalled store (Redis stopped with SIGSTOP). Each
// one is logged at error as lost, with its JSON, the one being retried
// included: before, only the first had a warning ("trying again") and the
// others went with the process without a word; so did a suspension
// alert Fire kept enqueueing again. With the store answering,
// stopping gives the buffer its time and loses nothing.
func TestReviewAlerterStopLogsWaitingAlerts(t *testing.T) {
	c := stoppableStores(t)["redis"]
	fire := func(a *limits.Alerter, n int, prefix string) {
		for i := range n {
			a.FireOnce(fmt.Sprint("limit messages per hour ", prefix, i), time.Now().Add(time.Hour), limits.Alert{Event: "limit", Account: fmt.Sprint(prefix, i)})
		}
	}
	newAlerter := func(logs *harness.LogBuffer) *limits.Alerter {
		return &limits.Alerter{Sender: alert.Sender{Webhook: "http://127.0.0.1:9/"}, MailTo: "desk@isp.test", Log: harness.Logger(t, logs),
			Outbox: c.st, Once: c.st, Timeout: 200 * time.Millisecond, Requeue: 50 * time.Millisecond}
	}

	logs := &harness.LogBuffer{}
	a := newAlerter(logs)
	c.pause()
	fire(a, 3, "stalled")
	a.Fire(limits.Alert{Event: "suspended", Account: "suspended0"}) // enqueued again in the background
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	a.Stop(ctx)
	cancel()
	c.resume()
	for i := range 3 {
		if !strings.Contains(logs.String(), fmt.Sprintf(`alert lost: milterd stopped before the store took it" alert="{\"id\":\"\",\"event\":\"limit\",\"account\":\"stalled%d\"`, i)) {
			t.Errorf("stalled%d not logged lost at the stop\n%s", i, logs)
		}
	}
	if !strings.Contains(logs.String(), `alert lost: milterd stopped before the store took it" alert="{\"id\":\"`) ||
		!strings.Contains(logs.String(), `\"event\":\"suspended\",\"account\":\"suspended0\"`) ||
		strings.Count(logs.String(), "alert lost: milterd stopped") != 4 {
		t.Errorf("the suspension alert Fire kept in memory was not logged lost at the stop\n%s", logs)
	}

	logs = &harness.LogBuffer{}
	a = newAlerter(logs)
	fire(a, 3, "up")
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	a.Stop(ctx)
	cancel()
	if strings.Contains(logs.String(), "alert lost") {
		t.Errorf("the store answering, an alert was lost at the stop\n%s", logs)
	}
	if n := waitItems(t, c.st, 3); n[limits.DestWebhook] < 3 {
		t.Errorf("enqueued %v; want the three", n)
	}
}
