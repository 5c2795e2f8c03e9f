package limits

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// OutboxItem is one delivery of an alert to one destination, kept in the
// limits store until it is delivered or given up (courier.go): the store
// is what survives a restart and what a fleet shares.
type OutboxItem struct {
	// ID is the row's key: the alert's id, a space and Dest.
	ID      string    `json:"id"`
	AlertID string    `json:"alert_id"` // "id" in the alert's JSON: what a receiver dedupes on
	Dest    string    `json:"dest"`     // DestCommand, DestWebhook, or DestMail+address
	Account string    `json:"account"`
	Body    []byte    `json:"body"` // the alert's JSON
	Created time.Time `json:"created"`
	// Attempts made so far and the last one's error.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
}

// Outbox destinations.
const (
	DestCommand = "command"
	DestWebhook = "webhook"
	DestMail    = "mail:" // + the address
)

// Outbox is the durable queue of alert deliveries, in the limits store.
// A claim is a lease: the item is due again only when the lease ends, so
// two couriers sharing the store never hold it at once; the holder either
// finishes it (delivered or given up) or puts it back for a later retry.
type Outbox interface {
	// Enqueue adds it, due at it.Created.
	Enqueue(ctx context.Context, it OutboxItem) error
	// Claim leases up to n items due at now to owner until now+lease.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]OutboxItem, error)
	// Finish removes the item id if owner still holds it, and reports
	// whether it did (false: the lease ended and another courier has it).
	Finish(ctx context.Context, id, owner string) (bool, error)
	// Retry stores it (its attempts and error) due at next, if owner still
	// holds it.
	Retry(ctx context.Context, it OutboxItem, owner string, next time.Time) error
	// OutboxItems lists every item, due or leased, oldest first.
	OutboxItems(ctx context.Context) ([]OutboxItem, error)
	OutboxTrimmer // its bound (outboxbound.go)
}

// outboxSchema is version 7 on both databases: due is when the item may
// next be claimed (its retry time, or its lease's end while owner holds
// it).
const outboxSchema = `
CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, due BIGINT NOT NULL, owner TEXT NOT NULL, it TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due);
`

func (s *SQLStore) Enqueue(ctx context.Context, it OutboxItem) error {
	js, _ := json.Marshal(it)
	_, err := s.exec(ctx, s.db, `INSERT INTO outbox (id, due, owner, it) VALUES ($1, $2, '', $3)`, it.ID, ms(it.Created), string(js))
	return err
}

// Claim takes each due item with a conditional update: of two couriers
// updating the same row, the second finds it no longer due (PostgreSQL
// re-reads the row under READ COMMITTED once the first commits; SQLite
// writes one at a time).
func (s *SQLStore) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT id FROM outbox WHERE due <= $1 ORDER BY due LIMIT $2`), ms(now), n)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var claimed []string
	for _, id := range ids {
		var js string
		err := s.db.QueryRowContext(ctx, s.d.Rebind(`UPDATE outbox SET due = $1, owner = $2 WHERE id = $3 AND due <= $4 RETURNING it`), ms(now.Add(lease)), owner, id, ms(now)).Scan(&js)
		if errors.Is(err, sql.ErrNoRows) {
			continue // another courier claimed it first
		}
		if err != nil {
			return nil, err
		}
		claimed = append(claimed, js)
	}
	return decodeAll[OutboxItem](claimed)
}

func (s *SQLStore) Finish(ctx context.Context, id, owner string) (bool, error) {
	res, err := s.exec(ctx, s.db, `DELETE FROM outbox WHERE id = $1 AND owner = $2`, id, owner)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *SQLStore) Retry(ctx context.Context, it OutboxItem, owner string, next time.Time) error {
	js, _ := json.Marshal(it)
	_, err := s.exec(ctx, s.db, `UPDATE outbox SET due = $1, owner = '', it = $2 WHERE id = $3 AND owner = $4`, ms(next), string(js), it.ID, owner)
	return err
}

func (s *SQLStore) OutboxItems(ctx context.Context) ([]OutboxItem, error) {
	items, err := queryJSON[OutboxItem](ctx, s.db, `SELECT it FROM outbox`)
	sortItems(items)
	return items, err
}

// Redis: og:outbox, a sorted set of item ids scored by due (ms);
// og:outbox:it, the items' JSON by id; og:outbox:owner, the holder of each
// leased item; og:outbox:created, the ids scored by Created (ms), which
// the trim walks from the oldest (outboxbound.go). Each operation is one
// script: atomic on the server.
var (
	claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local it = redis.call('HGET', KEYS[2], id)
  if it then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', KEYS[3], id, ARGV[4])
    table.insert(out, it)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[4], id)
  end
end
return out`)
	finishScript = redis.NewScript(`
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1`)
	retryScript = redis.NewScript(`
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1`)
	outboxKeys = []string{"og:outbox", "og:outbox:it", "og:outbox:owner", "og:outbox:created"}
)

func (r *Redis) Enqueue(ctx context.Context, it OutboxItem) error {
	js, _ := json.Marshal(it)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, outboxKeys[1], it.ID, string(js))
		p.ZAdd(ctx, outboxKeys[0], redis.Z{Score: float64(ms(it.Created)), Member: it.ID})
		p.ZAdd(ctx, outboxKeys[3], redis.Z{Score: float64(ms(it.Created)), Member: it.ID})
		return nil
	})
	return err
}

func (r *Redis) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]OutboxItem, error) {
	all, err := claimScript.Run(ctx, r.c, outboxKeys, ms(now), n, ms(now.Add(lease)), owner).StringSlice()
	if err != nil {
		return nil, err
	}
	return decodeAll[OutboxItem](all)
}

func (r *Redis) Finish(ctx context.Context, id, owner string) (bool, error) {
	n, err := finishScript.Run(ctx, r.c, outboxKeys, id, owner).Int()
	return n == 1, err
}

func (r *Redis) Retry(ctx context.Context, it OutboxItem, owner string, next time.Time) error {
	js, _ := json.Marshal(it)
	return retryScript.Run(ctx, r.c, outboxKeys, it.ID, owner, strconv.FormatInt(ms(next), 10), string(js)).Err()
}

func (r *Redis) OutboxItems(ctx context.Context) ([]OutboxItem, error) {
	all, err := r.c.HVals(ctx, outboxKeys[1]).Result()
	if err != nil {
		return nil, err
	}
	out, err := decodeAll[OutboxItem](all)
	sortItems(out)
	return out, err
}

// decodeAll decodes each JSON document of all.
func decodeAll[T any](all []string) ([]T, error) {
	out := make([]T, 0, len(all))
	for _, js := range all {
		var v T
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func sortItems(items []OutboxItem) {
	slices.SortFunc(items, func(a, b OutboxItem) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
}
