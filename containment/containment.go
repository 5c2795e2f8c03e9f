// Package containment makes the MTA's queue follow a suspension: the mail
// a suspended account got accepted before it was suspended, still in this
// smarthost's queue (known by the limits store's message records, by host
// and queue id), is put on hold or deleted. Each smarthost of a fleet
// watches the shared store for suspensions and acts on its own queue ids.
package containment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"outguard/limits"
)

// Queue is an MTA's mail queue.
type Queue interface {
	// List returns the queue id of every message in the queue with the
	// name of the queue it is in (Postfix: incoming, active, deferred,
	// hold).
	List(ctx context.Context) (map[string]string, error)
	Hold(ctx context.Context, ids []string) error
	Release(ctx context.Context, ids []string) error
	Delete(ctx context.Context, ids []string) error
}

// Actions on the queued mail of a suspended account.
const (
	Hold   = "hold"
	Delete = "delete"
	Keep   = "keep"
)

// HoldQueue is the name of the queue held messages are in.
const HoldQueue = "hold"

// Options configure a Containment.
type Options struct {
	Store    limits.Store
	Host     string // this smarthost's name in message records
	Queue    Queue
	Action   string        // Hold, Delete or Keep
	Interval time.Duration // between looks at the store; 0: one second
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
	Alert    *limits.Alerter  // tells the abuse desk what was held; may be nil
}

// Containment acts on the queue when an account is suspended.
type Containment struct {
	o Options
	// done is the suspension acted on per account, so that a sweep acts
	// once per suspension (and its late mail, LateFor); a restart acts
	// again, which holding is idempotent for.
	done map[string]look
}

// look is when a sweep last acted on the suspension that began at since.
type look struct{ since, at time.Time }

func New(o Options) *Containment {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Containment{o: o, done: map[string]look{}}
}

// Message is one of an account's messages in this host's queue.
type Message struct {
	QueueID string `json:"queue_id"`
	Queue   string `json:"queue"` // incoming, active, deferred, hold
	// Contained: in the hold queue because containment held it on this
	// host (its audit trail); a message in hold without it was held by
	// hand, and containment leaves it alone.
	Contained bool `json:"contained,omitempty"`
}

// LateFor is how long after a suspension the sweep keeps looking for the
// account's mail: a message the limits engine admitted at its end of
// data just before the suspension (its commit reads the suspension under
// the account's lock, so only one that committed first) may reach the
// queue after the first sweep found nothing to act on. Held mail is not
// acted on again; only mail that is still to go. It looks every LateEvery
// (each look lists the queue, and on Redis scans the host's records).
const (
	LateFor   = 10 * time.Minute
	LateEvery = 10 * time.Second
)

// Run sweeps every Interval until ctx ends. The store is the only channel
// between hosts: a suspension made by another smarthost, or by milterctl,
// is seen at the next sweep.
func (c *Containment) Run(ctx context.Context) {
	if c.o.Action == Keep {
		return
	}
	tick := time.NewTicker(c.o.Interval)
	defer tick.Stop()
	for {
		if err := c.Sweep(ctx); err != nil && ctx.Err() == nil {
			c.o.Log.Warn("containment: sweep failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep acts on the queued mail of each account suspended since it last
// looked. An account it fails for is tried again at the next sweep.
func (c *Containment) Sweep(ctx context.Context) error {
	susps, err := c.o.Store.Suspensions(ctx)
	if err != nil {
		return err
	}
	now := c.o.Now()
	active := map[string]bool{}
	var errs []error
	for _, s := range susps {
		if !s.Active(now) {
			continue
		}
		active[s.Key] = true
		if d, ok := c.done[s.Key]; ok && d.since.Equal(s.Since) && (!now.Before(s.Since.Add(LateFor)) || now.Sub(d.at) < LateEvery) {
			continue
		}
		if _, err := c.Contain(ctx, s.Key, "milterd"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Key, err))
			continue
		}
		c.done[s.Key] = look{since: s.Since, at: now}
	}
	for k := range c.done {
		if !active[k] {
			delete(c.done, k)
		}
	}
	return errors.Join(errs...)
}

// Contain holds or deletes, per Action, key's messages in this host's
// queue, and returns the ids it acted on; by (milterd or the operator)
// goes in the audit trail.
func (c *Containment) Contain(ctx context.Context, key, by string) ([]string, error) {
	if c.o.Action == Keep {
		return nil, nil
	}
	msgs, err := c.Messages(ctx, key)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range msgs {
		if m.Queue != HoldQueue || m.Contained && c.o.Action == Delete {
			ids = append(ids, m.QueueID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	act := c.o.Queue.Hold
	if c.o.Action == Delete {
		act = c.o.Queue.Delete
	}
	if err := act(ctx, ids); err != nil {
		return nil, err
	}
	c.o.Log.Warn("containment: queued mail of a suspended account "+actionDone[c.o.Action], "account", key, "host", c.o.Host, "queue_ids", ids)
	c.audit(ctx, key, auditEvent[c.o.Action], by, ids)
	c.o.Alert.Fire(limits.Alert{Event: auditEvent[c.o.Action], Account: key, Host: c.o.Host, QueueIDs: ids})
	return ids, nil
}

var (
	actionDone = map[string]string{Hold: "held", Delete: "deleted"}
	auditEvent = map[string]string{Hold: limits.AuditQueueHeld, Delete: limits.AuditQueueDeleted}
)

// audit records a queue action; the action is done, so a store error is
// logged, not returned.
func (c *Containment) audit(ctx context.Context, key, event, by string, ids []string) {
	ev := limits.AuditEvent{Time: c.o.Now(), Account: key, Event: event, By: by, Host: c.o.Host, Detail: strings.Join(ids, " ")}
	if err := c.o.Store.Audit(ctx, ev); err != nil {
		c.o.Log.Error("audit trail: a queue action was not recorded", "account", key, "event", event, "queue_ids", ids, "err", err)
	}
}

// Settle releases (release) or deletes key's messages that containment
// held in this host's queue, when an operator lifts its suspension, and
// returns their ids.
func (c *Containment) Settle(ctx context.Context, key string, release bool, by string) ([]string, error) {
	msgs, err := c.Messages(ctx, key)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range msgs {
		if m.Contained {
			ids = append(ids, m.QueueID)
		}
	}
	act, what, event := c.o.Queue.Delete, "deleted", limits.AuditQueueDeleted
	if release {
		act, what, event = c.o.Queue.Release, "released", limits.AuditQueueReleased
	}
	if err := act(ctx, ids); err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		c.o.Log.Warn("containment: held mail of an unsuspended account "+what, "account", key, "host", c.o.Host, "queue_ids", ids)
		c.audit(ctx, key, event, by, ids)
	}
	return ids, nil
}

// held returns the queue ids containment holds of key's mail on this
// host, by its audit trail in time order: held by containment and not
// released or deleted by it since. Mail the postmaster held by hand, for
// reasons of their own, is neither released nor deleted by containment,
// and that includes a message containment held once and released, held
// again by hand.
func (c *Containment) held(ctx context.Context, key string) (map[string]bool, error) {
	trail, err := c.o.Store.AuditTrail(ctx, key, time.Time{})
	if err != nil {
		return nil, err
	}
	ours := map[string]bool{}
	for _, ev := range trail {
		if ev.Host != c.o.Host {
			continue
		}
		for _, id := range strings.Fields(ev.Detail) {
			switch ev.Event {
			case limits.AuditQueueHeld:
				ours[id] = true
			case limits.AuditQueueReleased, limits.AuditQueueDeleted:
				delete(ours, id)
			}
		}
	}
	return ours, nil
}

// Messages returns key's messages still in this host's queue, by queue id:
// those of its records, and those containment holds whose record is gone
// (records are kept for a week; an escalated suspension lasts until an
// operator lifts it, and its held mail is still to be settled then).
func (c *Containment) Messages(ctx context.Context, key string) ([]Message, error) {
	ids, err := c.o.Store.Queued(ctx, c.o.Host, key)
	if err != nil {
		return nil, err
	}
	ours, err := c.held(ctx, key)
	if err != nil {
		return nil, err
	}
	for id := range ours {
		if slices.Contains(ids, id) {
			continue
		}
		// A record of another account: the id was reused (Postfix's
		// short ids are), the message is not key's.
		if owner, _, err := c.o.Store.Owner(ctx, c.o.Host, id); err != nil {
			return nil, err
		} else if owner == "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	q, err := c.o.Queue.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, id := range ids {
		if name, ok := q[id]; ok {
			out = append(out, Message{QueueID: id, Queue: name, Contained: name == HoldQueue && ours[id]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].QueueID < out[j].QueueID })
	return out, nil
}

// Held counts the messages containment held: the ones Settle acts on.
func Held(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		if m.Contained {
			n++
		}
	}
	return n
}

// HeldByHand counts the messages in the hold queue that containment did
// not hold: Settle leaves them.
func HeldByHand(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		if m.Queue == HoldQueue && !m.Contained {
			n++
		}
	}
	return n
}
