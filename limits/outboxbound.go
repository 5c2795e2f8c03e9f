package limits

import (
	"context"
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

// TrimOutbox deletes the excess of the items no courier holds, oldest
// first, in one statement that counts them itself and returns only the
// items dropped: two hosts trimming at once (each counting before the
// other's delete) would otherwise each drop an excess. A courier's claim
// since the count keeps its item (the DELETE's own notLeased). The
// count first spares the store a write when the outbox is within max.
func (s *SQLStore) TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM outbox WHERE `+notLeased), ms(now)).Scan(&n); err != nil || n <= max {
		return nil, err
	}
	out, err := queryJSON[OutboxItem](ctx, s.db, s.d.Rebind(`DELETE FROM outbox WHERE `+notLeased+` AND id IN
		(SELECT id FROM outbox WHERE `+notLeased+` ORDER BY `+createdSQL[s.d.Name]+`, id LIMIT
			(SELECT CASE WHEN COUNT(*) > $2 THEN COUNT(*) - $2 ELSE 0 END FROM outbox WHERE `+notLeased+`)) RETURNING it`), ms(now), max)
	sortItems(out)
	return out, err
}

// trimScript drops the oldest items (og:outbox:created) beyond ARGV[1]
// of those no courier holds at ARGV[2] (an owner and a due time, its
// lease's end, after now), and returns their JSON. It counts and deletes
// in one script, atomic on the server: two hosts trimming at once would
// otherwise each drop an excess. It reads the ids of the excess and of
// the items couriers hold (skipped), no more.
var trimScript = redis.NewScript(`
local held, nheld = {}, 0
for _, id in ipairs(redis.call('HKEYS', KEYS[3])) do
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) > tonumber(ARGV[2]) then
    held[id] = true
    nheld = nheld + 1
  end
end
local excess = redis.call('HLEN', KEYS[2]) - nheld - tonumber(ARGV[1])
local out = {}
if excess <= 0 then return out end
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, excess + nheld - 1)) do
  if #out == excess then break end
  if not held[id] then
    local it = redis.call('HGET', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[2], id)
    if it then table.insert(out, it) end
  end
end
return out`)

// TrimOutbox indexes an outbox older than og:outbox:created, then trims
// it (trimScript).
func (r *Redis) TrimOutbox(ctx context.Context, max int, now time.Time) ([]OutboxItem, error) {
	n, err := r.c.HLen(ctx, outboxKeys[1]).Result()
	if err != nil || n <= int64(max) {
		return nil, err
	}
	if err := r.indexCreated(ctx, n); err != nil {
		return nil, err
	}
	all, err := trimScript.Run(ctx, r.c, outboxKeys, max, ms(now)).StringSlice()
	if err != nil {
		return nil, err
	}
	out, err := decodeAll[OutboxItem](all)
	sortItems(out)
	return out, err
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
