package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the shared store for a fleet of smarthosts. Every operation is
// one Lua script or command, so limits hold exactly across hosts.
//
// Keys: og:sent:{account} (sorted set, member "id|recipients", score ms),
// og:und:{account} (sorted set of event ids) with og:undev:{account} (hash
// id -> event JSON), og:susp (hash account -> suspension JSON),
// og:msg:{queue id} (message record JSON, expiring after 7 days).
type Redis struct {
	c *redis.Client
}

// OpenRedis connects to addr (host:port, or a unix socket path).
func OpenRedis(ctx context.Context, addr string) (*Redis, error) {
	opt := &redis.Options{Addr: addr, MaxRetries: 1}
	if strings.HasPrefix(addr, "/") {
		opt.Network = "unix"
	}
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	return &Redis{c: c}, nil
}

func (r *Redis) Close() error { return r.c.Close() }

// usageLua computes the usage of KEYS[1] (after dropping what is older
// than a day) as {msgs_h, msgs_d, rcpts_h, rcpts_d, oldest_h, oldest_d}.
const usageLua = `
local function usage(key, now)
  local h, d = now - 3600000, now - 86400000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', d)
  local m = redis.call('ZRANGE', key, d, '+inf', 'BYSCORE', 'WITHSCORES')
  local u = {0, 0, 0, 0, 0, 0}
  for i = 1, #m, 2 do
    local n = tonumber(string.match(m[i], '|(%d+)$'))
    local t = tonumber(m[i+1])
    u[2] = u[2] + 1
    u[4] = u[4] + n
    if u[6] == 0 then u[6] = t end
    if t > h then
      u[1] = u[1] + 1
      u[3] = u[3] + n
      if u[5] == 0 then u[5] = t end
    end
  end
  return u
end
`

var usageScript = redis.NewScript(usageLua + `
local u = usage(KEYS[1], tonumber(ARGV[1]))
u[7] = redis.call('HGET', KEYS[2], ARGV[2]) or ''
return u`)

// admitScript: ARGV now, id, rcpt count, limits (4), record JSON, qid.
var admitScript = redis.NewScript(usageLua + `
local now, n = tonumber(ARGV[1]), tonumber(ARGV[3])
local u = usage(KEYS[1], now)
local add = {1, 1, n, n}
for i = 1, 4 do
  local lim = tonumber(ARGV[3 + i])
  if lim > 0 and u[i] + add[i] > lim then
    u[7] = 0
    return u
  end
end
redis.call('ZADD', KEYS[1], 'NX', now, ARGV[2] .. '|' .. n)
redis.call('PEXPIRE', KEYS[1], 90000000)
if ARGV[9] ~= '' then
  redis.call('SET', KEYS[2], ARGV[8], 'PX', 604800000)
end
u[7] = 1
return u`)

// undeliverableScript: ARGV now, then (id, ms, json) triples.
var undeliverableScript = redis.NewScript(`
local now = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  if redis.call('ZADD', KEYS[1], 'NX', ARGV[i+1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i+2])
  end
end
local old = redis.call('ZRANGE', KEYS[1], '-inf', now - 604800000, 'BYSCORE')
for _, id in ipairs(old) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 604800000)
redis.call('PEXPIRE', KEYS[1], 604800000)
redis.call('PEXPIRE', KEYS[2], 604800000)
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - 3600000), '+inf')`)

const suspKey = "og:susp"

func sentKey(k string) string { return "og:sent:" + k }
func undKey(k string) string  { return "og:und:" + k }
func evKey(k string) string   { return "og:undev:" + k }
func msgKey(q string) string  { return "og:msg:" + q }

func toUsage(v []any) Usage {
	n := func(i int) int64 { x, _ := v[i].(int64); return x }
	u := Usage{MessagesHour: int(n(0)), MessagesDay: int(n(1)), RecipientsHour: int(n(2)), RecipientsDay: int(n(3))}
	if n(4) > 0 {
		u.OldestHour = fromMS(n(4))
	}
	if n(5) > 0 {
		u.OldestDay = fromMS(n(5))
	}
	return u
}

func (r *Redis) Usage(ctx context.Context, key string, now time.Time) (Usage, *Suspension, error) {
	v, err := usageScript.Run(ctx, r.c, []string{sentKey(key), suspKey}, ms(now), key).Slice()
	if err != nil {
		return Usage{}, nil, err
	}
	var susp *Suspension
	if js, _ := v[6].(string); js != "" {
		susp = &Suspension{}
		if err := json.Unmarshal([]byte(js), susp); err != nil {
			return Usage{}, nil, err
		}
	}
	return toUsage(v), susp, nil
}

type record struct {
	Key   string   `json:"account"`
	Rcpts []string `json:"rcpts"`
}

func (r *Redis) Admit(ctx context.Context, key string, m Sent, lim Limits, now time.Time) (Usage, bool, error) {
	rec, _ := json.Marshal(record{key, m.Rcpts})
	v, err := admitScript.Run(ctx, r.c, []string{sentKey(key), msgKey(m.QueueID)},
		ms(m.Time), m.ID, len(m.Rcpts),
		lim.MessagesPerHour, lim.MessagesPerDay, lim.RecipientsPerHour, lim.RecipientsPerDay,
		string(rec), m.QueueID).Slice()
	if err != nil {
		return Usage{}, false, err
	}
	ok, _ := v[6].(int64)
	return toUsage(v), ok == 1, nil
}

func (r *Redis) AddUndeliverable(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error) {
	args := []any{ms(now)}
	for _, ev := range evs {
		js, _ := json.Marshal(ev)
		args = append(args, ev.ID, ms(ev.Time), string(js))
	}
	n, err := undeliverableScript.Run(ctx, r.c, []string{undKey(key), evKey(key)}, args...).Int()
	return n, err
}

func (r *Redis) Undeliverables(ctx context.Context, key string, since time.Time) ([]Undeliverable, error) {
	ids, err := r.c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: undKey(key), Start: fmt.Sprint("(", ms(since)), Stop: "+inf", ByScore: true}).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	vals, err := r.c.HMGet(ctx, evKey(key), ids...).Result()
	if err != nil {
		return nil, err
	}
	var out []Undeliverable
	for _, v := range vals {
		js, _ := v.(string)
		var ev Undeliverable
		if json.Unmarshal([]byte(js), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (r *Redis) Suspend(ctx context.Context, s Suspension) (bool, error) {
	js, _ := json.Marshal(s)
	return r.c.HSetNX(ctx, suspKey, s.Key, string(js)).Result()
}

func (r *Redis) Unsuspend(ctx context.Context, key string) (bool, error) {
	n, err := r.c.HDel(ctx, suspKey, key).Result()
	return n == 1, err
}

func (r *Redis) Suspensions(ctx context.Context) ([]Suspension, error) {
	all, err := r.c.HGetAll(ctx, suspKey).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Suspension, 0, len(all))
	for _, js := range all {
		var s Suspension
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sortSuspensions(out)
	return out, nil
}

func (r *Redis) Accounts(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for _, prefix := range []string{"og:sent:", "og:und:"} {
		iter := r.c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			seen[strings.TrimPrefix(iter.Val(), prefix)] = true
		}
		if err := iter.Err(); err != nil {
			return nil, err
		}
	}
	keys, err := r.c.HKeys(ctx, suspKey).Result()
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		seen[k] = true
	}
	return sortedKeys(seen), nil
}

func (r *Redis) Owner(ctx context.Context, qid string) (string, []string, error) {
	js, err := r.c.Get(ctx, msgKey(qid)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	var rec record
	err = json.Unmarshal([]byte(js), &rec)
	return rec.Key, rec.Rcpts, err
}

// Purge is a no-op: keys expire and the scripts trim their sets.
func (r *Redis) Purge(context.Context, time.Time) error { return nil }
