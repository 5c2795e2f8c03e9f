package limits

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultOutboxMax is the outbox's bound by default (Courier.MaxItems):
// an alert storm, or a receiver down for days, keeps at most this many
// deliveries, the newest, besides those a courier is making.
const DefaultOutboxMax = 10000

// OutboxTrimmer bounds the outbox.
type OutboxTrimmer interface {
	// TrimOutbox removes the oldest items (by Created) beyond max of
	// those no courier holds at now, and returns those it removed itself:
	// of two couriers trimming at once, each item is returned to one. An
	// item leased (a courier is delivering it) is neither removed nor
	// counted: it is delivered or put back, and would otherwise be both
	// delivered and given up as lost.
	TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error)
}

// trimmed returns the items of all beyond the newest max, oldest first.
func trimmed(all []OutboxItem, max int) []OutboxItem {
	if len(all) <= max {
		return nil
	}
	sortItems(all)
	return all[:len(all)-max]
}

// notLeased is the SQL condition of an item no courier holds: never
// claimed, put back for a retry, or its lease over.
const notLeased = `(owner = '' OR due <= $1)`

func (s *SQLStore) TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM outbox WHERE `+notLeased), ms(now)).Scan(&n); err != nil || n <= max {
		return nil, err
	}
	all, err := queryJSON[OutboxItem](ctx, s.db, s.d.Rebind(`SELECT it FROM outbox WHERE `+notLeased), ms(now))
	if err != nil {
		return nil, err
	}
	var out []OutboxItem
	for _, it := range trimmed(all, max) {
		// Claimed since the SELECT: the courier has it, it stays.
		res, err := s.exec(ctx, s.db, `DELETE FROM outbox WHERE `+notLeased+` AND id = $2`, ms(now), it.ID)
		if err != nil {
			return out, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, it)
		}
	}
	return out, nil
}

// dropScript removes an item unless a courier holds it (an owner and a
// due time, its lease's end, after now); 1 if it removed it.
var dropScript = redis.NewScript(`
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 and due and tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])`)

func (r *Redis) TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error) {
	n, err := r.c.HLen(ctx, outboxKeys[1]).Result()
	if err != nil || n <= int64(max) {
		return nil, err
	}
	all, err := r.OutboxItems(ctx)
	if err != nil {
		return nil, err
	}
	owners, err := r.c.HKeys(ctx, outboxKeys[2]).Result()
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	if len(owners) > 0 {
		due, err := r.c.ZMScore(ctx, outboxKeys[0], owners...).Result()
		if err != nil {
			return nil, err
		}
		for i, id := range owners {
			held[id] = due[i] > float64(ms(now))
		}
	}
	free := slices.DeleteFunc(all, func(it OutboxItem) bool { return held[it.ID] })
	var out []OutboxItem
	for _, it := range trimmed(free, max) {
		n, err := dropScript.Run(ctx, r.c, outboxKeys, it.ID, ms(now)).Int()
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
	dropped, err := c.Store.TrimOutbox(ctx, c.MaxItems, c.Now())
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
