package limits

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"outguard/internal/alert"
)

// Courier delivers the outbox: it claims one due item at a time (a lease
// longer than a delivery can take), delivers it, and finishes it or puts
// it back with exponential backoff until MaxAge, when it gives up (logged
// with the alert, and in the account's audit trail).
//
// Delivery is at least once: a courier killed after the receiver took an
// item and before Finish leaves it leased, and the next claim after the
// lease sends it again (the receiver cannot be asked whether it got it).
// The alert's "id", inside the signed body, is what a receiver dedupes on.
// Two couriers never hold one item at once: a claim is one conditional
// write, and the lease outlasts the delivery's own timeout, so long as
// the hosts' clocks agree to within Margin.
type Courier struct {
	Store  Store // the outbox, and the audit trail of what was given up
	Host   string
	Sender alert.Sender // the command and the webhook (Timeout bounds each delivery)
	// Inject submits a mail notice (the quarantine's release path: SMTP
	// to the release address); nil: mail items fail and are retried.
	Inject func(ctx context.Context, to []string, msg io.Reader) error
	// From is the notices' From header; Contact the abuse contact they
	// name.
	From, Contact string
	Log           *slog.Logger
	Now           func() time.Time // nil: time.Now
	// Backoff is the first retry's delay, doubling up to MaxBackoff;
	// MaxAge how long an item is tried. Defaults: 30s, 10m, 48h.
	Backoff, MaxBackoff, MaxAge time.Duration
	// Margin is added to the delivery timeout to make the lease (default
	// 30s): the clock difference between hosts it tolerates.
	Margin   time.Duration
	Interval time.Duration // between looks at the outbox when idle (default 2s)
	// MaxItems bounds the outbox (default DefaultOutboxMax): before each
	// look, the oldest items no courier holds beyond it are dropped,
	// each logged and audited as an alert lost.
	MaxItems int

	once  sync.Once
	owner string
}

// defaults fills in c's zero settings; owner is this courier's own
// (host and a random id: a restarted milterd does not take over the
// leases of the one before).
func (c *Courier) defaults() { c.once.Do(c.setDefaults) }

func (c *Courier) setDefaults() {
	c.owner = c.Host + "/" + newID()
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Backoff = cmp.Or(c.Backoff, 30*time.Second)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 10*time.Minute)
	c.MaxAge = cmp.Or(c.MaxAge, 48*time.Hour)
	c.Margin = cmp.Or(c.Margin, 30*time.Second)
	c.Interval = cmp.Or(c.Interval, 2*time.Second)
	c.MaxItems = cmp.Or(c.MaxItems, DefaultOutboxMax)
	c.Sender.Timeout = cmp.Or(c.Sender.Timeout, 10*time.Second)
}

// Run delivers until ctx ends.
func (c *Courier) Run(ctx context.Context) {
	c.defaults()
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		if _, err := c.Flush(ctx); err != nil && ctx.Err() == nil {
			c.Log.Warn("alert outbox: store failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// trimEvery is how many deliveries a flush makes between bounding the
// outbox (trim).
const trimEvery = 100

// Flush bounds the outbox (MaxItems) and delivers every item due now, one
// claim at a time, and returns how many were delivered.
func (c *Courier) Flush(ctx context.Context) (int, error) {
	c.defaults()
	lease := c.Sender.Timeout + c.Margin
	n := 0
	for tries := 0; ctx.Err() == nil; tries++ {
		// The bound holds while a long flush (a receiver timing out on
		// each of a storm's items) runs, too.
		if tries%trimEvery == 0 {
			if err := c.trim(ctx); err != nil {
				return n, err
			}
		}
		items, err := c.Store.Claim(ctx, c.owner, c.Now(), lease, 1)
		if err != nil || len(items) == 0 {
			return n, err
		}
		if c.deliver(ctx, items[0]) {
			n++
		}
	}
	return n, ctx.Err()
}

// deliver tries it once and records the outcome; it reports whether it
// was delivered.
func (c *Courier) deliver(ctx context.Context, it OutboxItem) bool {
	dctx, cancel := context.WithTimeout(ctx, c.Sender.Timeout)
	err := c.send(dctx, it)
	cancel()
	// The outcome is recorded whatever happened to ctx: the lease ends by
	// itself, but a retry time is better than a second try at once.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	now := c.Now()
	if err == nil {
		if ok, ferr := c.Store.Finish(wctx, it.ID, c.owner); ferr != nil || !ok {
			c.Log.Warn("alert outbox: delivered, but the lease was lost or not released; it may be delivered again", "id", it.AlertID, "dest", it.Dest, "err", ferr)
		}
		return true
	}
	it.Attempts++
	it.LastError = err.Error()
	if now.Sub(it.Created) >= c.MaxAge {
		c.Log.Error("alert outbox: given up", "id", it.AlertID, "dest", it.Dest, "account", it.Account, "attempts", it.Attempts, "err", err, "alert", string(it.Body))
		ev := AuditEvent{Time: now, Account: it.Account, Event: AuditAlertLost, By: "milterd", Host: c.Host,
			Detail: fmt.Sprintf("%s %s after %d attempts: %v", it.AlertID, it.Dest, it.Attempts, err)}
		if aerr := c.Store.Audit(wctx, ev); aerr != nil {
			c.Log.Error("audit trail: a lost alert was not recorded", "id", it.AlertID, "err", aerr)
		}
		if _, ferr := c.Store.Finish(wctx, it.ID, c.owner); ferr != nil {
			c.Log.Warn("alert outbox: given up, but not removed", "id", it.AlertID, "err", ferr)
		}
		return false
	}
	next := now.Add(c.backoff(it.Attempts))
	c.Log.Warn("alert outbox: delivery failed; retrying", "id", it.AlertID, "dest", it.Dest, "account", it.Account, "attempts", it.Attempts, "next", next, "err", err)
	if rerr := c.Store.Retry(wctx, it, c.owner, next); rerr != nil {
		c.Log.Warn("alert outbox: retry not recorded; tried again when the lease ends", "id", it.AlertID, "err", rerr)
	}
	return false
}

// backoff is the delay after the attempts-th failure.
func (c *Courier) backoff(attempts int) time.Duration {
	d := c.Backoff
	for i := 1; i < attempts && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

func (c *Courier) send(ctx context.Context, it OutboxItem) error {
	switch {
	case it.Dest == DestCommand && len(c.Sender.Command) > 0:
		return c.Sender.Run(ctx, it.Body)
	case it.Dest == DestWebhook && c.Sender.Webhook != "":
		return c.Sender.Post(ctx, it.Body)
	case strings.HasPrefix(it.Dest, DestMail) && c.Inject != nil:
		to := strings.TrimPrefix(it.Dest, DestMail)
		msg, err := notice(it, to, c.From, c.Contact)
		if err != nil {
			return err
		}
		return c.Inject(ctx, []string{to}, strings.NewReader(msg))
	}
	return fmt.Errorf("%s: not configured", it.Dest)
}
