package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SignalComplaints suspends an account whose mail receivers' users
// reported as spam (complaint/): complaints_per_day.
const SignalComplaints = "complaints"

// Complaint is one complaint report brought back to the abuse mailbox
// (complaint/). Attributed: its reference verified, Account set, counted
// toward complaints_per_day. Unattributable (no reference, forged,
// altered, unknown key): Account "", Problem says why; kept, listed,
// never counted.
type Complaint struct {
	// ID is the report's identity, counted once: "msg:HOST:QUEUEID" for
	// an attributed one (the message complained about: reports from 50
	// recipients of one message, or one report delivered twice, are one
	// complaint), "raw:SHA256" of the report for an unattributable one.
	ID       string    `json:"id"`
	Account  string    `json:"account,omitempty"`
	Time     time.Time `json:"time"` // when it was ingested
	Kind     string    `json:"kind"` // arf, jmrp, forwarded
	Feedback string    `json:"feedback_type,omitempty"`
	Reporter string    `json:"reporter,omitempty"` // the report's From
	Subject  string    `json:"subject,omitempty"`  // the original's
	Rcpt     string    `json:"rcpt,omitempty"`     // who complained, when the report says
	Arrival  string    `json:"arrival,omitempty"`  // the report's Arrival-Date
	Host     string    `json:"host,omitempty"`     // the reference's smarthost
	QueueID  string    `json:"queue_id,omitempty"`
	Sent     time.Time `json:"sent,omitzero"`     // when the message was accepted
	Problem  string    `json:"problem,omitempty"` // why it is unattributable
	// FBL is the feedback loop (its DKIM domain) the report was
	// authenticated as coming from: only such reports are attributed.
	FBL string `json:"fbl,omitempty"`
	// Report is the start of an unattributable report, for the abuse
	// desk to read (the mailbox keeps it whole).
	Report string `json:"report,omitempty"`
}

// complaintTTL is how long complaints are kept for the abuse desk; only
// the last day counts.
const complaintTTL = 30 * Day

// ComplaintStore keeps complaints: part of Store.
type ComplaintStore interface {
	// AddComplaint records c unless its ID is recorded already, and
	// returns whether it did and, for an attributed one, how many of the
	// account's complaints fall in the day before now and after its last
	// acknowledgement, counted under the account's lock as AddRefused.
	AddComplaint(ctx context.Context, c Complaint, now time.Time) (added bool, n int, err error)
	// Complaints returns key's complaints since the given time, oldest
	// first; key "" every complaint, attributed or not.
	Complaints(ctx context.Context, key string, since time.Time) ([]Complaint, error)
	// Unattributable counts the unattributable complaints since the
	// given time.
	Unattributable(ctx context.Context, since time.Time) (int, error)
}

// MaxUnattributableKept bounds how many unattributable reports of a day
// keep their text (Complaint.Report, up to 64 KiB each, for 30 days):
// anyone can mail the abuse address, and a flood of junk would otherwise
// fill the store. The rest are listed without it.
const MaxUnattributableKept = 200

// MaxUnattributable bounds how many unattributable reports of a day are
// recorded at all (kept 30 days: at most 30 times this many rows, whatever
// is mailed to the abuse address). The store refuses more with
// ErrUnattributableFull, under the lock unattributable reports share, so
// two ingests at once cannot pass it; the abuse mailbox still has them.
const MaxUnattributable = 1000

// ErrUnattributableFull: MaxUnattributable unattributable reports were
// recorded within the day before; this one is not.
var ErrUnattributableFull = fmt.Errorf("more than %d unattributable reports within a day: not recorded", MaxUnattributable)

// complaintsSchema is version 6 on both databases. Unattributable
// complaints have key "".
const complaintsSchema = `
CREATE TABLE IF NOT EXISTS complaints (id TEXT PRIMARY KEY, key TEXT NOT NULL, t BIGINT NOT NULL, ev TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS complaints_key ON complaints (key, t);
CREATE INDEX IF NOT EXISTS complaints_t ON complaints (t);
`

func (s *SQLStore) AddComplaint(ctx context.Context, c Complaint, now time.Time) (bool, int, error) {
	tx, err := s.locked(ctx, c.Account)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	if c.Account == "" {
		var n, dup int
		if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*), COUNT(CASE WHEN id = $1 THEN 1 END) FROM complaints WHERE key = '' AND t > $2`), c.ID, ms(now.Add(-Day))).Scan(&n, &dup); err != nil {
			return false, 0, err
		}
		if n >= MaxUnattributable && dup == 0 {
			return false, 0, ErrUnattributableFull
		}
	}
	js, _ := json.Marshal(c)
	r, err := s.exec(ctx, tx, `INSERT INTO complaints (id, key, t, ev) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, c.ID, c.Account, ms(c.Time), string(js))
	if err != nil {
		return false, 0, err
	}
	added, _ := r.RowsAffected()
	var n int
	if c.Account != "" {
		if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM complaints WHERE key = $1 AND t > $2 AND t > COALESCE((SELECT t FROM acks WHERE key = $1), 0)`),
			c.Account, ms(now.Add(-Day))).Scan(&n); err != nil {
			return false, 0, err
		}
	}
	return added == 1, n, tx.Commit()
}

func (s *SQLStore) Unattributable(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM complaints WHERE key = '' AND t > $1`), ms(since)).Scan(&n)
	return n, err
}

func (s *SQLStore) Complaints(ctx context.Context, key string, since time.Time) ([]Complaint, error) {
	if key == "" {
		return queryJSON[Complaint](ctx, s.db, s.d.Rebind(`SELECT ev FROM complaints WHERE t > $1 ORDER BY t, id`), ms(since))
	}
	return queryJSON[Complaint](ctx, s.db, s.d.Rebind(`SELECT ev FROM complaints WHERE key = $1 AND t > $2 ORDER BY t, id`), key, ms(since))
}

// Redis keys: og:cmpev (hash id -> JSON, every complaint), og:cmpall
// (sorted set of every id by time), og:cmp:{account} (sorted set of the
// account's ids by time), og:cmpun (the unattributable ones).
const (
	cmpEvKey  = "og:cmpev"
	cmpAllKey = "og:cmpall"
)

// cmpKey is the sorted set of k's complaints; og:cmpun (outside the
// og:cmp: prefix Accounts scans) the unattributable ones.
func cmpKey(k string) string {
	if k == "" {
		return "og:cmpun"
	}
	return "og:cmp:" + k
}

// complaintScript: KEYS og:cmpev, og:cmpall, og:cmp:{account}, og:ack;
// ARGV id, t, JSON, now, account ("": unattributable), day, ttl,
// MaxUnattributable. One script: the add and the count (and the bound of
// unattributable ones) are atomic across a fleet. {-1, 0}: the bound.
var complaintScript = redis.NewScript(`
if ARGV[5] == '' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and
   redis.call('ZCOUNT', KEYS[3], '(' .. (tonumber(ARGV[4]) - tonumber(ARGV[6])), '+inf') >= tonumber(ARGV[8]) then
  return {-1, 0}
end
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3])
if added == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
end
local now = tonumber(ARGV[4])
local old = redis.call('ZRANGE', KEYS[2], '-inf', now - tonumber(ARGV[7]), 'BYSCORE')
for _, id in ipairs(old) do redis.call('HDEL', KEYS[1], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[7]))
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[7]))
redis.call('PEXPIRE', KEYS[3], ARGV[7])
local n = 0
if ARGV[5] ~= '' then
  local from = math.max(now - tonumber(ARGV[6]), tonumber(redis.call('HGET', KEYS[4], ARGV[5]) or '0'))
  n = redis.call('ZCOUNT', KEYS[3], '(' .. from, '+inf')
end
return {added, n}`)

func (r *Redis) AddComplaint(ctx context.Context, c Complaint, now time.Time) (bool, int, error) {
	js, _ := json.Marshal(c)
	v, err := complaintScript.Run(ctx, r.c, []string{cmpEvKey, cmpAllKey, cmpKey(c.Account), ackKey},
		c.ID, ms(c.Time), string(js), ms(now), c.Account, Day.Milliseconds(), complaintTTL.Milliseconds(), MaxUnattributable).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if v[0] == -1 {
		return false, 0, ErrUnattributableFull
	}
	return v[0] == 1, int(v[1]), nil
}

func (r *Redis) Unattributable(ctx context.Context, since time.Time) (int, error) {
	n, err := r.c.ZCount(ctx, cmpKey(""), fmt.Sprint("(", ms(since)), "+inf").Result()
	return int(n), err
}

func (r *Redis) Complaints(ctx context.Context, key string, since time.Time) ([]Complaint, error) {
	set := cmpAllKey
	if key != "" {
		set = cmpKey(key)
	}
	return redisJSON[Complaint](ctx, r.c, set, cmpEvKey, since)
}

// Complaint records c and, when it is attributed and the account's
// complaints of the last day cross complaints_per_day, suspends the
// account with those complaints as evidence (Signal "complaints"). It
// returns whether c was new and the suspension it made, if any. Every
// new attributed complaint is alerted (event "complaint").
func (e *Engine) Complaint(ctx context.Context, c Complaint) (bool, *Suspension, error) {
	now := e.Now()
	ctx, cancel := e.bound(ctx)
	defer cancel()
	if c.Account == "" && c.Report != "" {
		n, err := e.Store.Unattributable(ctx, now.Add(-Day))
		if err != nil {
			return false, nil, err
		}
		if n >= MaxUnattributableKept {
			c.Report = ""
			c.Problem += fmt.Sprintf("; text not kept: more than %d unattributable reports within a day", MaxUnattributableKept)
		}
	}
	added, n, err := e.Store.AddComplaint(ctx, c, now)
	if err != nil || c.Account == "" {
		return added, nil, err
	}
	lim := e.Policy.For(c.Account).ComplaintsPerDay
	if added {
		e.Log.Info("complaint", "account", c.Account, "qid", c.QueueID, "host", c.Host, "kind", c.Kind, "last_day", n, "limit", lim)
		e.Alert.Fire(Alert{Event: "complaint", Account: c.Account, Complaint: &c, Limit: lim, Count: n})
	}
	// A complaint recorded before still looks at the count: the report
	// may come again because suspending failed the first time (exit 75).
	if lim <= 0 || n <= lim {
		return added, nil, nil
	}
	since := now.Add(-Day)
	if acked, err := e.Store.Acknowledged(ctx, c.Account); err != nil {
		return added, nil, err
	} else if acked.After(since) {
		since = acked
	}
	cs, err := e.Store.Complaints(ctx, c.Account, since)
	if err != nil {
		return added, nil, err
	}
	var evidence []Sighting
	for _, x := range cs {
		evidence = append(evidence, Sighting{Signal: SignalComplaints, Value: x.ID, First: x.Sent, Last: x.Time,
			Detail: fmt.Sprintf("%s %s %s from %s: %s", x.QueueID, x.Kind, x.Feedback, x.Reporter, x.Subject)})
	}
	s := Suspension{
		Key: c.Account, Since: now, By: "milterd", Signal: SignalComplaints, Sightings: evidence,
		Reason: fmt.Sprintf("%d complaints within a day (limit %d)", n, lim),
	}
	created, err := e.autoSuspend(ctx, &s, now)
	if err != nil {
		return added, nil, err
	}
	if !created {
		return added, nil, e.markCrossed(ctx, c.Account, SignalComplaints, s.Reason, nil, now)
	}
	e.Log.Warn("account suspended", "account", c.Account, "signal", SignalComplaints, "reason", s.Reason, "until", s.Until)
	e.Alert.Fire(Alert{Event: "suspended", Account: c.Account, Signal: SignalComplaints, Suspension: &s})
	if e.Observer != nil {
		e.Observer.Suspended(SignalComplaints)
	}
	return added, &s, nil
}
