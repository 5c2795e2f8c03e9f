package limits

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"outguard/internal/alert"
)

// Alert is what the abuse desk is told, as JSON: an account's queued mail
// held or deleted for its suspension (event "queue held", "queue
// deleted"), an account suspended
// (event "suspended", naming the signal, with the suspension and its
// evidence), or an account
// that reached a sending limit (event "limit", once per account, limit and
// window, with its usage).
type Alert struct {
	Event      string      `json:"event"`
	Account    string      `json:"account"`
	Signal     string      `json:"signal,omitempty"` // what an account was suspended for (spread.go)
	Suspension *Suspension `json:"suspension,omitempty"`
	Limit      int         `json:"limit,omitempty"`
	What       string      `json:"what,omitempty"` // "messages per hour", …
	Until      time.Time   `json:"until,omitzero"` // when the limit frees up
	Usage      *Usage      `json:"usage,omitempty"`
	// A suspended account's queued mail acted on (containment/): event
	// "queue held" or "queue deleted", on Host.
	Host     string   `json:"host,omitempty"`
	QueueIDs []string `json:"queue_ids,omitempty"`
	// Event "complaint": a receiver's complaint attributed to Account,
	// Count of the last day against its Limit (complaints_per_day).
	Complaint *Complaint `json:"complaint,omitempty"`
	Count     int        `json:"count,omitempty"`
}

// Alerter tells people about an Alert (internal/alert). Alerts run in the
// background and never hold up mail.
type Alerter struct {
	alert.Sender
	Log *slog.Logger

	sending sync.WaitGroup
}

// Wait waits for the alerts fired so far to be sent (or fail): a
// short-lived command (milterctl complaints ingest) must not exit before.
// Safe on a nil Alerter.
func (a *Alerter) Wait() {
	if a != nil {
		a.sending.Wait()
	}
}

// Fire sends al. Safe on a nil Alerter.
func (a *Alerter) Fire(al Alert) {
	if a == nil || !a.Enabled() {
		return
	}
	body, _ := json.Marshal(al)
	a.sending.Add(1)
	go func() {
		defer a.sending.Done()
		if err := a.Send(context.Background(), body); err != nil {
			a.Log.Error("alert failed", "event", al.Event, "account", al.Account, "err", err)
		}
	}()
}
