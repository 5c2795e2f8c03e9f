package limits

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
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
	// ID is the alert's own: the same in each destination and each
	// retry, so that a receiver drops a repeat (the webhook's signature
	// covers it).
	ID         string      `json:"id"`
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
	// Event "campaign": a new campaign across accounts (campaign/).
	Campaign *Campaign `json:"campaign,omitempty"`
	// Event "complaint": a receiver's complaint attributed to Account,
	// Count of the last day against its Limit (complaints_per_day).
	Complaint *Complaint `json:"complaint,omitempty"`
	Count     int        `json:"count,omitempty"`
}

// Alerter tells people about an Alert (internal/alert): it puts the
// alert into the outbox, which a Courier delivers. The mail that raised
// an alert waits for one store write at most (Timeout), never for a
// receiver.
type Alerter struct {
	alert.Sender // where alerts go (the Courier's own sends them)
	Log          *slog.Logger
	// Outbox keeps each alert, one item per destination, until a Courier
	// delivers it (retried, across restarts, once for a fleet sharing the
	// store). nil: no alerts.
	Outbox Outbox
	// MailTo is the abuse desk's address; MailCustomer also mails the
	// account's own address (Customer) about its suspension. Mail goes
	// through the outbox only.
	MailTo       string
	MailCustomer bool
	// Customer returns the address of an account ("" if it has none):
	// nil, the login when it is an address. Never an address from
	// message content.
	Customer func(account string) string
	// Timeout bounds an enqueue (the store's bound); an alert the store
	// did not take is kept in memory and enqueued again every Requeue
	// (default 10s) for RequeueFor (default an hour), then logged as lost
	// with its JSON.
	Timeout, Requeue, RequeueFor time.Duration
	Now                          func() time.Time // nil: time.Now
	// Once is where a fleet claims an alert sent once per window
	// (FireOnce); nil: each process sends it.
	Once Once
	// Buffer bounds the alerts of FireOnce waiting in this process for
	// the store (default 1000): one more is logged as lost, with its
	// JSON.
	Buffer int

	start   sync.Once
	pending chan onceAlert
	// retrying is the alert claimLoop is trying again, if any, and
	// requeued the JSON of each alert Fire keeps enqueueing again, by id
	// (Stop).
	mu       sync.Mutex
	retrying *onceAlert
	requeued map[string]string
}

// onceAlert is an alert of FireOnce waiting for its claim.
type onceAlert struct {
	key   string
	until time.Time
	al    Alert
}

// FireOnce sends al once for a fleet sharing the store until until: the
// milterd that claims key first (Once) fires it. It is called on the SMTP
// path (a limit reached), so it never waits for the store: the claim and
// the enqueue are made by one goroutine, from a buffer of Buffer alerts;
// a stalled store costs the mail nothing, and its alerts wait in the
// buffer (claimed and enqueued again every Requeue for RequeueFor, then
// logged as lost). Safe on a nil Alerter.
func (a *Alerter) FireOnce(key string, until time.Time, al Alert) {
	if a == nil || a.Outbox == nil {
		return
	}
	a.start.Do(a.startLoop)
	select {
	case a.pending <- onceAlert{key, until, al}:
	default:
		body, _ := json.Marshal(al)
		a.Log.Error("alert lost: too many alerts waiting for the store", "alert", string(body), "buffer", cap(a.pending))
	}
}

func (a *Alerter) startLoop() {
	a.pending = make(chan onceAlert, cmp.Or(a.Buffer, 1000))
	go a.claimLoop()
}

// Stop is milterd stopping: it gives the alerts of FireOnce still in the
// buffer until ctx ends to reach the store, then logs each one still
// waiting (the one whose claim the store keeps failing, and those Fire
// keeps enqueueing again, included) as lost, with its JSON: the process
// ending drops them. Safe on a nil Alerter.
func (a *Alerter) Stop(ctx context.Context) {
	if a == nil || a.Outbox == nil {
		return
	}
	a.start.Do(a.startLoop)
	for len(a.pending) > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	lost := func(p onceAlert) {
		body, _ := json.Marshal(p.al)
		a.Log.Error("alert lost: milterd stopped before the store took it", "alert", string(body))
	}
	a.mu.Lock()
	if a.retrying != nil {
		lost(*a.retrying)
	}
	for _, body := range a.requeued {
		a.Log.Error("alert lost: milterd stopped before the store took it", "alert", body)
	}
	a.mu.Unlock()
	for {
		select {
		case p := <-a.pending:
			lost(p)
		default:
			return
		}
	}
}

// claimLoop claims and fires the alerts of FireOnce, one at a time.
func (a *Alerter) claimLoop() {
	for p := range a.pending {
		if a.claim(p) {
			a.Fire(p.al)
		}
	}
}

// claim reports whether this process is the one to send p, trying the
// store every Requeue for RequeueFor.
func (a *Alerter) claim(p onceAlert) bool {
	if a.Once == nil {
		return true
	}
	end := time.Now().Add(cmp.Or(a.RequeueFor, time.Hour))
	for tries := 0; ; tries++ {
		ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(a.Timeout, 10*time.Second))
		ok, err := a.Once.ClaimOnce(ctx, p.key, p.until, a.now())
		cancel()
		if err == nil {
			a.setRetrying(nil)
			return ok
		}
		body, _ := json.Marshal(p.al)
		if !time.Now().Before(end) {
			a.setRetrying(nil)
			a.Log.Error("alert lost: the store did not take it", "alert", string(body), "err", err)
			return false
		}
		if tries == 0 { // once: the store's own failures are logged by every caller
			a.Log.Warn("alert: the store did not answer its claim; trying again", "alert", string(body), "err", err)
			a.setRetrying(&p)
		}
		time.Sleep(cmp.Or(a.Requeue, 10*time.Second))
	}
}

func (a *Alerter) setRetrying(p *onceAlert) {
	a.mu.Lock()
	a.retrying = p
	a.mu.Unlock()
}

func (a *Alerter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Fire enqueues al: when Fire returns, the alert is in the store (or
// being enqueued again, logged with its JSON). Safe on a nil Alerter.
func (a *Alerter) Fire(al Alert) {
	if a == nil || a.Outbox == nil {
		return
	}
	al.ID = newID()
	body, _ := json.Marshal(al)
	now := a.now()
	var items []OutboxItem
	for _, d := range a.dests(al) {
		items = append(items, OutboxItem{ID: al.ID + " " + d, AlertID: al.ID, Dest: d, Account: al.Account, Body: body, Created: now})
	}
	if failed := a.enqueue(items); len(failed) > 0 {
		a.Log.Error("alert: the store did not take it; kept in memory and enqueued again", "alert", string(body), "err", failed[0].LastError)
		a.mu.Lock()
		if a.requeued == nil {
			a.requeued = map[string]string{}
		}
		a.requeued[al.ID] = string(body)
		a.mu.Unlock()
		go a.requeue(al.ID, failed, string(body))
	}
}

// dests are where al goes: the command, the webhook, the abuse desk's
// mail, and for a suspension the customer's.
func (a *Alerter) dests(al Alert) []string {
	var d []string
	if len(a.Command) > 0 {
		d = append(d, DestCommand)
	}
	if a.Webhook != "" {
		d = append(d, DestWebhook)
	}
	if a.MailTo != "" {
		d = append(d, DestMail+a.MailTo)
	}
	if a.MailCustomer && al.Event == "suspended" {
		addr := ""
		if a.Customer != nil {
			addr = a.Customer(al.Account)
		} else if IsAddress(al.Account) {
			addr = al.Account
		}
		if addr != "" && addr != a.MailTo {
			d = append(d, DestMail+addr)
		}
	}
	return d
}

// enqueue puts items in the outbox and returns those it could not, with
// the error in LastError. All of them together wait Timeout at most.
func (a *Alerter) enqueue(items []OutboxItem) []OutboxItem {
	var failed []OutboxItem
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(a.Timeout, 10*time.Second))
	defer cancel()
	for _, it := range items {
		if err := a.Outbox.Enqueue(ctx, it); err != nil {
			it.LastError = err.Error()
			failed = append(failed, it)
		}
	}
	return failed
}

func (a *Alerter) requeue(id string, items []OutboxItem, body string) {
	defer func() {
		a.mu.Lock()
		delete(a.requeued, id)
		a.mu.Unlock()
	}()
	every := cmp.Or(a.Requeue, 10*time.Second)
	for end := time.Now().Add(cmp.Or(a.RequeueFor, time.Hour)); time.Now().Before(end); {
		time.Sleep(every)
		if items = a.enqueue(items); len(items) == 0 {
			a.Log.Info("alert: enqueued after all", "alert", body)
			return
		}
	}
	a.Log.Error("alert lost: the store did not take it", "alert", body, "dests", len(items), "err", items[0].LastError)
}

// IsAddress reports whether s is an email address (local@domain, no
// white space, angle brackets or commas).
func IsAddress(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t\r\n<>,;:\"()[]\\") && !strings.Contains(domain, "@")
}

// newID returns a random 128-bit id, in hex.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
