package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// notLeased is the SQL condition of an item no courier holds: never
// claimed, put back for a retry, or its lease over.
const notLeased = `(owner = '' OR due <= $1)`

// createdSQL is an item's Created in SQL, from its JSON (the outbox has
// no column of it: a column would be a migration): an instant both
// databases order across time zones.
var createdSQL = map[string]string{
	"sqlite":   `julianday(json_extract(it, '$.created'))`,
	"postgres": `(it::json->>'created')::timestamptz`,
}

// TrimOutbox counts the items no courier holds and deletes the excess,
// oldest first, in one statement: only the items dropped are read back.
// A courier's claim since the count keeps its item (the DELETE's own
// notLeased).
func (s *SQLStore) TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM outbox WHERE `+notLeased), ms(now)).Scan(&n); err != nil || n <= max {
		return nil, err
	}
	out, err := queryJSON[OutboxItem](ctx, s.db, s.d.Rebind(`DELETE FROM outbox WHERE `+notLeased+` AND id IN
		(SELECT id FROM outbox WHERE `+notLeased+` ORDER BY `+createdSQL[s.d.Name]+`, id LIMIT $2) RETURNING it`), ms(now), n-max)
	sortItems(out)
	return out, err
}

// dropScript removes an item unless a courier holds it (an owner and a
// due time, its lease's end, after now); the item's JSON if it removed
// it, else false.
var dropScript = redis.NewScript(`
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 and due and tonumber(due) > tonumber(ARGV[2]) then return false end
local it = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return it`)

// TrimOutbox walks og:outbox:created from the oldest: it reads the ids
// of the excess and of the items couriers hold (skipped), no more.
func (r *Redis) TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error) {
	n, err := r.c.HLen(ctx, outboxKeys[1]).Result()
	if err != nil || n <= int64(max) {
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
			if due[i] > float64(ms(now)) {
				held[id] = true
			}
		}
	}
	excess := n - int64(len(held)) - int64(max)
	if excess <= 0 {
		return nil, nil
	}
	if err := r.indexCreated(ctx, n); err != nil {
		return nil, err
	}
	ids, err := r.c.ZRange(ctx, outboxKeys[3], 0, excess+int64(len(held))-1).Result()
	if err != nil {
		return nil, err
	}
	var out []OutboxItem
	for _, id := range ids {
		if held[id] || int64(len(out)) == excess {
			continue
		}
		js, err := dropScript.Run(ctx, r.c, outboxKeys, id, ms(now)).Text()
		if errors.Is(err, redis.Nil) {
			continue // claimed since: the courier has it, it stays
		}
		if err != nil {
			return out, err
		}
		var it OutboxItem
		if err := json.Unmarshal([]byte(js), &it); err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}

// indexCreated adds the items enqueued before og:outbox:created was kept
// (an outbox older than this version; n items in all) to it: once, on
// the first trim that finds it short.
func (r *Redis) indexCreated(ctx context.Context, n int64) error {
	if z, err := r.c.ZCard(ctx, outboxKeys[3]).Result(); err != nil || z >= n {
		return err
	}
	all, err := r.OutboxItems(ctx)
	if err != nil {
		return err
	}
	zs := make([]redis.Z, len(all))
	for i, it := range all {
		zs[i] = redis.Z{Score: float64(ms(it.Created)), Member: it.ID}
	}
	return r.c.ZAddNX(ctx, outboxKeys[3], zs...).Err()
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
