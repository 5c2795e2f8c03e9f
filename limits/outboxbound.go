package limits

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// DefaultOutboxMax is the outbox's bound by default (Courier.MaxItems):
// an alert storm, or a receiver down for days, keeps at most this many
// deliveries, the newest.
const DefaultOutboxMax = 10000

// OutboxTrimmer bounds the outbox.
type OutboxTrimmer interface {
	// TrimOutbox removes the oldest items (by Created) beyond max, leased
	// or not, and returns those it removed itself: of two couriers
	// trimming at once, each item is returned to one.
	TrimOutbox(ctx context.Context, max int) ([]OutboxItem, error)
}

// trimmed returns the items of all beyond the newest max, oldest first.
func trimmed(all []OutboxItem, max int) []OutboxItem {
	if len(all) <= max {
		return nil
	}
	sortItems(all)
	return all[:len(all)-max]
}

func (s *SQLStore) TrimOutbox(ctx context.Context, max int) ([]OutboxItem, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil || n <= max {
		return nil, err
	}
	all, err := queryJSON[OutboxItem](ctx, s.db, `SELECT it FROM outbox`)
	if err != nil {
		return nil, err
	}
	var out []OutboxItem
	for _, it := range trimmed(all, max) {
		res, err := s.exec(ctx, s.db, `DELETE FROM outbox WHERE id = $1`, it.ID)
		if err != nil {
			return out, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, it)
		}
	}
	return out, nil
}

// dropScript removes an item whoever holds it; 1 if it was there.
var dropScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])`)

func (r *Redis) TrimOutbox(ctx context.Context, max int) ([]OutboxItem, error) {
	n, err := r.c.HLen(ctx, outboxKeys[1]).Result()
	if err != nil || n <= int64(max) {
		return nil, err
	}
	all, err := r.OutboxItems(ctx)
	if err != nil {
		return nil, err
	}
	var out []OutboxItem
	for _, it := range trimmed(all, max) {
		n, err := dropScript.Run(ctx, r.c, outboxKeys, it.ID).Int()
		if err != nil {
			return out, err
		}
		if n == 1 {
			out = append(out, it)
		}
	}
	return out, nil
}

// trim keeps the outbox within MaxItems: each item dropped is logged as
// lost with its alert, and put in the account's audit trail.
func (c *Courier) trim(ctx context.Context) error {
	dropped, err := c.Store.TrimOutbox(ctx, c.MaxItems)
	for _, it := range dropped {
		c.Log.Error("alert lost: the outbox is full", "id", it.AlertID, "dest", it.Dest, "account", it.Account, "max", c.MaxItems, "alert", string(it.Body))
		ev := AuditEvent{Time: c.Now(), Account: it.Account, Event: AuditAlertLost, By: "milterd", Host: c.Host,
			Detail: fmt.Sprintf("%s %s: the outbox held more than %d deliveries (oldest dropped first)", it.AlertID, it.Dest, c.MaxItems)}
		if aerr := c.Store.Audit(ctx, ev); aerr != nil {
			c.Log.Error("audit trail: a lost alert was not recorded", "id", it.AlertID, "err", aerr)
		}
	}
	return err
}
