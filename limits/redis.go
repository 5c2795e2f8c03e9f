package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the shared store for a fleet of smarthosts. Every operation is
// one Lua script or command, so limits hold exactly across hosts.
//
// Keys: og:c:{account} (hash: two rings of bucket counters, at most 84
// fields; see usageLua), og:und:{account} (sorted set of
// event ids) with og:undev:{account} (hash id -> event JSON), og:ack (hash
// account -> acknowledged ms), og:susp (hash account -> suspension JSON)
// with og:suspuntil (hash account -> until ms, 0: none),
// og:ref:{account} with og:refev:{account} (refused messages, as og:und),
// og:msg:{host}:{queue id} (hash: account, rcpts, d:<rcpt> for each one
// delivered; expiring after 7 days).
type Redis struct {
	c *redis.Client
	// skew is admitScript's tolerance in seconds (0: rolls not judged).
	skew float64
	// ksend: the senders kept per campaign key (campaigncap.go); 0 is
	// CampaignKeySenders.
	ksend int
}

// RedisOptions: where the server is and how long to wait for it.
type RedisOptions struct {
	Addr string // host:port, or a unix socket path
	// Timeout bounds connecting and each command (0: 5s); a caller's
	// earlier deadline ends the wait sooner.
	Timeout  time.Duration
	PoolSize int // 0: 10
	// MaxClockSkew: a counter slot rolls to a later bucket only if, by
	// Redis' clock (TIME) give or take this, the bucket it holds no
	// longer counts and the one it rolls to still does (else
	// ErrClockSkew): PostgreSQL's outguard.max_clock_skew (clock.go).
	// 0: 120 s; negative: not judged (a simulation whose day runs faster
	// than the server's clock).
	MaxClockSkew time.Duration
}

// OpenRedis connects to addr with the default options.
func OpenRedis(ctx context.Context, addr string) (*Redis, error) {
	return OpenRedisOptions(ctx, RedisOptions{Addr: addr})
}

// OpenRedisOptions connects to the server of o.
func OpenRedisOptions(ctx context.Context, o RedisOptions) (*Redis, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 10
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = 120 * time.Second
	}
	// ContextTimeoutEnabled: a caller's deadline bounds a hung server too;
	// the timeouts bound a call without one. No retry: a command that
	// timed out may have run, and a script's count is not to be run twice.
	opt := &redis.Options{Addr: o.Addr, MaxRetries: -1, ContextTimeoutEnabled: true,
		DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, PoolTimeout: o.Timeout, PoolSize: o.PoolSize}
	if strings.HasPrefix(o.Addr, "/") {
		opt.Network = "unix"
	}
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", o.Addr, err)
	}
	return &Redis{c: c, skew: max(o.MaxClockSkew, 0).Seconds()}, nil
}

func (r *Redis) Close() error { return r.c.Close() }

// usageLua reads KEYS[1]'s two rings of counters: fields m0–m59 hold the
// minute buckets (minute mod 60), h0–h23 the hour buckets (hour mod 24),
// each "bucket:msgs:rcpts". A field is reused when its slot comes round, so
// the hash never grows past 84 fields and a check reads at most those,
// whatever the account has sent. usage sums the fields still in the
// windows starting at minute fm and hour fh: {msgs_h, msgs_d, rcpts_h,
// rcpts_d, oldest minute, oldest hour}.
const usageLua = `
local fields = {}
for i = 0, 59 do fields[#fields+1] = 'm' .. i end
for i = 0, 23 do fields[#fields+1] = 'h' .. i end
local function slots(key)
  return redis.call('HMGET', key, unpack(fields))
end
local function parse(v)
  if not v then return nil end
  local b, m, r = string.match(v, '^(%d+):(%d+):(%d+)$')
  return tonumber(b), tonumber(m), tonumber(r)
end
local function usage(v, fm, fh)
  local u = {0, 0, 0, 0, 0, 0}
  for i = 1, 84 do
    local b, m, r = parse(v[i])
    if b then
      local w, first = 0, fm
      if i > 60 then w, first = 1, fh end
      if b >= first then
        u[1+w] = u[1+w] + m
        u[3+w] = u[3+w] + r
        if u[5+w] == 0 or b < u[5+w] then u[5+w] = b end
      end
    end
  end
  return u
end
`

// beginScript is the MAIL stage (BeginMessage): KEYS counters, og:susp,
// then sight's K when there are sightings; ARGV fm, fh, account, then
// sight's A. Returns usage's six, the suspension JSON (empty: none), and
// sight's counts when there were sightings.
var beginScript = redis.NewScript(usageLua + sightLua + `
local u = usage(slots(KEYS[1]), tonumber(ARGV[1]), tonumber(ARGV[2]))
u[7] = redis.call('HGET', KEYS[2], ARGV[3]) or ''
if #ARGV > 3 then u[8] = sight({unpack(KEYS, 3)}, ARGV, 4) end
return u`)

// admitScript is end-of-message (CommitMessage): KEYS counters, message
// record, og:susp, og:suspuntil, then sight's K when there are sightings;
// ARGV fm, fh, minute, hour, rcpt count, limits (4), account, rcpts (""
// qid: no record), now (ms), the clock skew tolerance (s, 0: none), then
// sight's A. The sightings are counted whether or not the message is
// admitted. A suspended account's message is not counted (the suspension
// is read in the same script as the count: one made on any host or by
// milterctl before it is seen). For an account not suspended, a slot
// holding a later bucket than the message's is an error (OGSKEW,
// ErrClockSkew), before anything is written; so is, for a message within
// its limits, a roll Redis' clock refuses (rollLua). Returns
// usage's six, 1 if admitted, the suspension JSON (empty: none), and
// sight's counts.
var admitScript = redis.NewScript(usageLua + sightLua + rollLua + admitLua)

// rollLua judges a slot's roll by Redis' clock: PostgreSQL's trigger
// og_counters_roll (clock.go, the same rule and the same reasons) in the
// admit scripts, the only writers of the counters. roll(account, from,
// to, length, ring, tolerance) returns the error (OGSKEW ...) or
// nil. A host ahead would start afresh the bucket the others count in
// (from still counts by Redis' clock); a host behind by more than a
// window would count into a bucket nobody reads (to no longer counts). A
// host behind by less cannot erase anything: the slot of its time holds
// its bucket, a later one (OGSKEW above) or one older by a whole ring,
// which no longer counted. TIME makes the script non-deterministic: Redis
// replicates its effects (the default since 5, the only way since 7).
const rollLua = `
local function roll(acct, from, to, len, ring, tol)
  if tol <= 0 then return nil end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
  -- A bucket b counts at time T while b >= floor(T / len) - ring + 1.
  local function first(at) return math.floor(at / len) - ring + 1 end
  if from >= first(now + tol) or to < first(now - tol) then
    return 'OGSKEW account ' .. acct .. ': a slot would roll from bucket ' .. from .. ' to ' .. to ..
      ' (of ' .. len .. ' s) at Redis\' time ' .. string.format('%.3f', now) ..
      ': this host\'s clock is off Redis\' by more than max_clock_skew (' .. tol .. ' s)'
  end
  return nil
end
`

// admitLua is admitScript's body.
const admitLua = `
local n = tonumber(ARGV[5])
local v = slots(KEYS[1])
local minute, hour = tonumber(ARGV[3]), tonumber(ARGV[4])
local u = usage(v, tonumber(ARGV[1]), tonumber(ARGV[2]))
u[7] = 0 -- before u[8], u[9]: a reply ends at the first nil
u[8] = ''
-- The suspension first: a suspended account's message gets it, whatever
-- its slots hold (as og_admit).
local susp = redis.call('HGET', KEYS[3], ARGV[10])
if susp then
  local untilms = tonumber(redis.call('HGET', KEYS[4], ARGV[10]) or '0')
  if untilms == 0 or untilms > tonumber(ARGV[12]) then
    u[8] = susp
  end
end
local add, over = {1, 1, n, n}, false
for i = 1, 4 do
  local lim = tonumber(ARGV[5 + i])
  if lim > 0 and u[i] + add[i] > lim then over = true end
end
if u[8] == '' then
  -- slot index, the message's bucket, the bucket's length (s), the ring
  for _, s in ipairs({{1 + minute % 60, minute, 60, 60}, {61 + hour % 24, hour, 3600, 24}}) do
    local cb = parse(v[s[1]])
    if cb and cb > s[2] then
      return redis.error_reply('OGSKEW account ' .. ARGV[10] .. ': bucket ' .. s[2] .. ', its slot holds ' .. cb)
    end
    -- Only a message that is counted rolls its slots (as the trigger
    -- fires on og_admit's update only); checked before anything is
    -- written, sightings included: a script's error undoes nothing.
    if cb and cb < s[2] and not over then
      local e = roll(ARGV[10], cb, s[2], s[3], s[4], tonumber(ARGV[13]))
      if e then return redis.error_reply(e) end
    end
  end
end
if #ARGV > 13 then u[9] = sight({unpack(KEYS, 5)}, ARGV, 14) end
if u[8] ~= '' or over then
  return u
end
-- count in the slot: added to its bucket, or a fresh one over an older
local function bump(idx, field, b)
  local cb, cm, cr = parse(v[idx])
  if cb ~= b then cm, cr = 0, 0 end
  redis.call('HSET', KEYS[1], field, b .. ':' .. (cm + 1) .. ':' .. (cr + n))
end
bump(1 + minute % 60, 'm' .. (minute % 60), minute)
bump(61 + hour % 24, 'h' .. (hour % 24), hour)
redis.call('PEXPIRE', KEYS[1], 90000000)
if KEYS[2] ~= '' then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'account', ARGV[10], 'rcpts', ARGV[11])
  redis.call('PEXPIRE', KEYS[2], 604800000)
end
u[7] = 1
return u`

// undeliverableScript: KEYS events, event JSON, og:ack; ARGV now, account,
// then (id, ms, json) triples. Returns the count since max(an hour ago,
// the acknowledgement).
var undeliverableScript = redis.NewScript(`
local now = tonumber(ARGV[1])
for i = 3, #ARGV, 3 do
  if redis.call('ZADD', KEYS[1], 'NX', ARGV[i+1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i+2])
  end
end
local old = redis.call('ZRANGE', KEYS[1], '-inf', now - 604800000, 'BYSCORE')
for _, id in ipairs(old) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 604800000)
redis.call('PEXPIRE', KEYS[1], 604800000)
redis.call('PEXPIRE', KEYS[2], 604800000)
local from = math.max(now - 3600000, tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0'))
return redis.call('ZCOUNT', KEYS[1], '(' .. from, '+inf')`)

// suspendScript: KEYS og:susp, og:suspuntil; ARGV account, JSON, until, now.
var suspendScript = redis.NewScript(`
local u = redis.call('HGET', KEYS[2], ARGV[1])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 and (u == false or tonumber(u) == 0 or tonumber(u) > tonumber(ARGV[4])) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1`)

const (
	suspKey      = "og:susp"
	suspUntilKey = "og:suspuntil"
	ackKey       = "og:ack"
)

func countKey(k string) string     { return "og:c:" + k }
func undKey(k string) string       { return "og:und:" + k }
func evKey(k string) string        { return "og:undev:" + k }
func msgKey(host, q string) string { return "og:msg:" + host + ":" + q }
func refKey(k string) string       { return "og:ref:" + k }
func refEvKey(k string) string     { return "og:refev:" + k }

func toUsage(v []any) Usage {
	n := func(i int) int64 { x, _ := v[i].(int64); return x }
	return usageFrom(n(0), n(1), n(2), n(3), n(4), n(5))
}

func (r *Redis) Usage(ctx context.Context, key string, now time.Time) (Usage, *Suspension, error) {
	u, susp, _, err := r.BeginMessage(ctx, key, nil, now)
	return u, susp, err
}

// BeginMessage is one script (beginScript).
func (r *Redis) BeginMessage(ctx context.Context, key string, ss []Sighting, now time.Time) (Usage, *Suspension, map[string]int, error) {
	fm, fh := windowStart(now)
	keys, args := []string{countKey(key), suspKey}, []any{fm, fh, key}
	if len(ss) > 0 {
		k, a, err := sightArgs(key, ss, now)
		if err != nil {
			return Usage{}, nil, nil, err
		}
		keys, args = append(keys, k...), append(args, a...)
	}
	v, err := beginScript.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return Usage{}, nil, nil, err
	}
	susp, err := redisSuspension(v[6])
	if err != nil {
		return Usage{}, nil, nil, err
	}
	return toUsage(v), susp, stageCounts(v, ss, 7), nil
}

// stageCounts reads the sight counts a stage's script appends (element
// i), nil when there were no sightings.
func stageCounts(v []any, ss []Sighting, i int) map[string]int {
	if len(ss) == 0 || len(v) <= i {
		return nil
	}
	c, _ := v[i].([]any)
	return sightCounts(c)
}

// redisSuspension decodes a script's suspension JSON ("": none).
func redisSuspension(v any) (*Suspension, error) {
	js, _ := v.(string)
	if js == "" {
		return nil, nil
	}
	susp := &Suspension{}
	return susp, json.Unmarshal([]byte(js), susp)
}

func (r *Redis) Admit(ctx context.Context, key string, m Sent, lim Limits, now time.Time) (Usage, bool, error) {
	u, ok, _, _, err := r.CommitMessage(ctx, key, m, lim, nil, now)
	return u, ok, err
}

// CommitMessage is one script (admitScript).
func (r *Redis) CommitMessage(ctx context.Context, key string, m Sent, lim Limits, ss []Sighting, now time.Time) (Usage, bool, *Suspension, map[string]int, error) {
	fm, fh := windowStart(now)
	rec := ""
	if m.QueueID != "" {
		rec = msgKey(m.Host, m.QueueID)
	}
	keys := []string{countKey(key), rec, suspKey, suspUntilKey}
	args := []any{fm, fh, m.Time.Unix() / 60, m.Time.Unix() / 3600, len(m.Rcpts),
		lim.MessagesPerHour, lim.MessagesPerDay, lim.RecipientsPerHour, lim.RecipientsPerDay,
		key, strings.Join(m.Rcpts, "\n"), ms(now), r.skew}
	if len(ss) > 0 {
		k, a, err := sightArgs(key, ss, now)
		if err != nil {
			return Usage{}, false, nil, nil, err
		}
		keys, args = append(keys, k...), append(args, a...)
	}
	var v []any
	var err error
	if m.Campaign != nil && len(m.Campaign.Copy.Keys) > 0 {
		v, err = r.commitCampaign(ctx, m, keys, args)
	} else {
		v, err = admitScript.Run(ctx, r.c, keys, args...).Slice()
	}
	if err != nil {
		return Usage{}, false, nil, nil, redisSkew(err)
	}
	ok, _ := v[6].(int64)
	susp, err := redisSuspension(v[7])
	if err != nil {
		return Usage{}, false, nil, nil, err
	}
	return toUsage(v), ok == 1, susp, stageCounts(v, ss, 8), nil
}

func (r *Redis) AddUndeliverable(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error) {
	return r.addEvents(ctx, undKey(key), evKey(key), key, evs, now)
}

// addEvents runs undeliverableScript on one account's set of events.
func (r *Redis) addEvents(ctx context.Context, set, hash, key string, evs []Undeliverable, now time.Time) (int, error) {
	args := []any{ms(now), key}
	for _, ev := range evs {
		js, _ := json.Marshal(ev)
		args = append(args, ev.ID, ms(ev.Time), string(js))
	}
	return undeliverableScript.Run(ctx, r.c, []string{set, hash, ackKey}, args...).Int()
}

// AddRefused is one script, as AddUndeliverable, on the account's own
// refused-message keys.
func (r *Redis) AddRefused(ctx context.Context, key string, evs []Undeliverable, now time.Time) (int, error) {
	return r.addEvents(ctx, refKey(key), refEvKey(key), key, evs, now)
}

func (r *Redis) Refused(ctx context.Context, key string, since time.Time) ([]Undeliverable, error) {
	return r.events(ctx, refKey(key), refEvKey(key), since)
}

func (r *Redis) Acknowledged(ctx context.Context, key string) (time.Time, error) {
	v, err := r.c.HGet(ctx, ackKey, key).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	return fromMS(v), err
}

func (r *Redis) Undeliverables(ctx context.Context, key string, since time.Time) ([]Undeliverable, error) {
	return r.events(ctx, undKey(key), evKey(key), since)
}

// events reads one account's events since the given time, oldest first.
func (r *Redis) events(ctx context.Context, set, hash string, since time.Time) ([]Undeliverable, error) {
	return redisJSON[Undeliverable](ctx, r.c, set, hash, since)
}

// redisJSON reads the JSON values in hash of the ids in the sorted set
// set scored after since, oldest first.
func redisJSON[T any](ctx context.Context, c *redis.Client, set, hash string, since time.Time) ([]T, error) {
	ids, err := c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: set, Start: fmt.Sprint("(", ms(since)), Stop: "+inf", ByScore: true}).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	vals, err := c.HMGet(ctx, hash, ids...).Result()
	if err != nil {
		return nil, err
	}
	var out []T
	for _, v := range vals {
		js, _ := v.(string)
		var x T
		if json.Unmarshal([]byte(js), &x) == nil {
			out = append(out, x)
		}
	}
	return out, nil
}

func (r *Redis) Suspend(ctx context.Context, s Suspension, now time.Time) (bool, error) {
	js, _ := json.Marshal(s)
	var until int64
	if !s.Until.IsZero() {
		until = ms(s.Until)
	}
	n, err := suspendScript.Run(ctx, r.c, []string{suspKey, suspUntilKey}, s.Key, string(js), until, ms(now)).Int()
	return n == 1, err
}

func (r *Redis) Unsuspend(ctx context.Context, key string, now time.Time) (bool, error) {
	var del *redis.IntCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.HDel(ctx, suspKey, key)
		p.HDel(ctx, suspUntilKey, key)
		p.HSet(ctx, ackKey, key, ms(now))
		return nil
	})
	if err != nil {
		return false, err
	}
	return del.Val() == 1, nil
}

func (r *Redis) Reset(ctx context.Context, key string, now time.Time) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, countKey(key))
		p.HSet(ctx, ackKey, key, ms(now))
		return nil
	})
	return err
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
	for _, prefix := range []string{"og:c:", "og:und:", "og:ref:", "og:cmp:"} {
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

// Queued scans host's records: a suspension is rare, and a per-account
// index would cost every message a write.
func (r *Redis) Queued(ctx context.Context, host, key string) ([]string, error) {
	prefix := msgKey(host, "")
	var out []string
	it := r.c.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	for it.Next(ctx) {
		acct, err := r.c.HGet(ctx, it.Val(), "account").Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if acct == key {
			out = append(out, strings.TrimPrefix(it.Val(), prefix))
		}
	}
	sort.Strings(out)
	return out, it.Err()
}

// escapeGlob quotes the glob characters of Redis' MATCH in s.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *Redis) Owner(ctx context.Context, host, qid string) (string, []string, error) {
	rec, err := r.c.HGetAll(ctx, msgKey(host, qid)).Result()
	if err != nil || rec["account"] == "" {
		return "", nil, err
	}
	var delivered []string
	for f := range rec {
		if d, ok := strings.CutPrefix(f, "d:"); ok {
			delivered = append(delivered, d)
		}
	}
	return rec["account"], pending(strings.Split(rec["rcpts"], "\n"), delivered), nil
}

// Delivered runs deliveredScript for each message, pipelined: one round
// trip for all of them.
func (r *Redis) Delivered(ctx context.Context, host string, delivered map[string][]string) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for qid, rcpts := range delivered {
			if len(rcpts) == 0 {
				continue
			}
			args := make([]any, len(rcpts))
			for i, rc := range rcpts {
				args[i] = "d:" + rc
			}
			deliveredScript.Eval(ctx, p, []string{msgKey(host, qid)}, args...) // EVALSHA has no fallback in a pipeline
		}
		return nil
	})
	return err
}

// deliveredScript marks recipients delivered on an existing record only:
// HSET alone would make a record without an account or an expiry for
// every message milterd did not see (bounces, local mail).
var deliveredScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], 1) end
return 1`)

// Ping checks that the server answers.
func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// Purge is a no-op: keys expire and the scripts trim their sets.
func (r *Redis) Purge(context.Context, time.Time) error { return nil }

// sightLua records sightings and counts them (spread.go). Keys: a sorted
// set per signal, og:sig:{account}:{signal} (value -> last seen ms), and
// og:sigv:{account} (hash signal NUL value -> "first:last:detail").
// sight(K, A, i): K the four sets (in the order of Signals), the hash,
// og:ack, then the og:addr sets of the address sightings (logins.go);
// A[i..] window start ms, account, retention cutoff ms, then (key index
// in K, value, first ms, last ms, detail) tuples. Returns the count in
// each set since max(window start, acknowledgement). A function, so that
// the scripts of a message's stages (stage.go) count in their own call.
const sightLua = `
local function sight(K, A, i0)
  local from, cutoff = tonumber(A[i0]), tonumber(A[i0+2])
  for i = i0+3, #A, 5 do
    local set, value, first, last = K[tonumber(A[i])], A[i+1], A[i+2], tonumber(A[i+3])
    if tonumber(A[i]) > 6 then
      local old = redis.call('ZSCORE', set, A[i0+1])
      if not old or tonumber(old) <= last then redis.call('ZADD', set, last, A[i0+1]) end
      redis.call('ZREMRANGEBYSCORE', set, '-inf', cutoff)
      redis.call('PEXPIRE', set, 604800000)
    else
      local field = A[i] .. '\0' .. value
      local old = redis.call('HGET', K[5], field)
      local oldfirst, oldlast
      if old then oldfirst, oldlast = string.match(old, '^(%d+):(%d+):') end
      if not oldlast or tonumber(oldlast) <= last then
        redis.call('ZADD', set, last, value)
        redis.call('HSET', K[5], field, (oldfirst or first) .. ':' .. last .. ':' .. A[i+4])
      end
    end
  end
  local ack = tonumber(redis.call('HGET', K[6], A[i0+1]) or '0')
  local out = {}
  for s = 1, 4 do
    local gone = redis.call('ZRANGE', K[s], '-inf', cutoff, 'BYSCORE')
    for _, v in ipairs(gone) do redis.call('HDEL', K[5], s .. '\0' .. v) end
    redis.call('ZREMRANGEBYSCORE', K[s], '-inf', cutoff)
    redis.call('PEXPIRE', K[s], 604800000)
    local lo = from
    if ack >= lo then lo = '(' .. ack end
    out[s] = redis.call('ZCOUNT', K[s], lo, '+inf')
  end
  redis.call('PEXPIRE', K[5], 604800000)
  return out
end
`

// sightScript: KEYS and ARGV as sight's K and A.
var sightScript = redis.NewScript(sightLua + `return sight(KEYS, ARGV, 1)`)

func sigKeys(k string) []string {
	keys := make([]string, 0, 6)
	for _, s := range Signals {
		keys = append(keys, "og:sig:"+k+":"+s)
	}
	return append(keys, "og:sigv:"+k, ackKey)
}

func sigIndex(signal string) int {
	for i, s := range Signals {
		if s == signal {
			return i + 1
		}
	}
	return 0
}

func (r *Redis) Sight(ctx context.Context, key string, ss []Sighting, now time.Time) (map[string]int, error) {
	keys, args, err := sightArgs(key, ss, now)
	if err != nil {
		return nil, err
	}
	v, err := sightScript.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	return sightCounts(v), nil
}

// sightArgs are sight's K and A for ss.
func sightArgs(key string, ss []Sighting, now time.Time) ([]string, []any, error) {
	fm, _ := windowStart(now)
	args := []any{fm * 60000, key, ms(now.Add(-recordTTL))}
	keys := sigKeys(key)
	for _, x := range ss {
		i := sigIndex(x.Signal)
		if x.Signal == SightingAddress {
			a, err := netip.ParseAddr(x.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("address sighting: %w", err)
			}
			keys = append(keys, addrKey(a))
			i = len(keys)
		}
		if i == 0 {
			return nil, nil, fmt.Errorf("unknown signal %q", x.Signal)
		}
		args = append(args, i, x.Value, ms(x.First), ms(x.Last), x.Detail)
	}
	return keys, args, nil
}

// sightCounts reads sight's answer.
func sightCounts(v []any) map[string]int {
	n := map[string]int{}
	for i, c := range v {
		if c, _ := c.(int64); c > 0 && i < len(Signals) {
			n[Signals[i]] = int(c)
		}
	}
	return n
}

func (r *Redis) Sightings(ctx context.Context, key string, since time.Time) ([]Sighting, error) {
	keys := sigKeys(key)
	var out []Sighting
	for i, sig := range Signals {
		vals, err := r.c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: keys[i], Start: fmt.Sprint("(", ms(since)), Stop: "+inf", ByScore: true}).Result()
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			continue
		}
		fields := make([]string, len(vals))
		for j, v := range vals {
			fields[j] = fmt.Sprint(i+1, "\x00", v)
		}
		recs, err := r.c.HMGet(ctx, keys[4], fields...).Result()
		if err != nil {
			return nil, err
		}
		for j, rec := range recs {
			s, _ := rec.(string)
			if s == "" {
				continue // trimmed since the range was read
			}
			first, rest, _ := strings.Cut(s, ":")
			last, detail, _ := strings.Cut(rest, ":")
			f, _ := strconv.ParseInt(first, 10, 64)
			l, _ := strconv.ParseInt(last, 10, 64)
			out = append(out, Sighting{Signal: sig, Value: vals[j], First: fromMS(f), Last: fromMS(l), Detail: detail})
		}
	}
	sort.Slice(out, func(i, j int) bool { // as the SQL stores order them
		a, b := out[i], out[j]
		if !a.Last.Equal(b.Last) {
			return a.Last.Before(b.Last)
		}
		return a.Signal < b.Signal || a.Signal == b.Signal && a.Value < b.Value
	})
	return out, nil
}
