package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A spare is the abuse desk's judgement that the accounts of a campaign
// it lists are innocent (a petition's signers): the campaign suspends
// none of them any more. It only stops suspensions, never lets a copy
// through: every copy still gets campaign.action, and an account that
// first sends the campaign after the spare is suspended as before (the
// desk spares again to lift it). Reviews broke the designs that did more:
// spared copies delivered (rspare), every later sender exempt so that a
// run joined to a spared petition suspended no one (rspare, rspare3),
// exemptions inferred from first-seen times (rspare2).
//
// A spare is of one run of the campaign: it is in force while the run
// goes on, each copy of it no more than a window after the last one the
// spare saw (Last, moved on by TouchSpare). The same text established
// again after a window without a copy is a new run under the same id
// (the text's key), and finds the spare stale: a matter of times, not of
// a write that a store fault, a race or a host not yet upgraded could
// miss (review rspare4). A host that does not know spares moves nothing:
// a spare the fleet's upgraded hosts do not see a copy of goes stale, and
// its accounts are suspended again (never the other way).

// Spare is who spared a campaign, and when; Last is the last copy of its
// run seen (at the spare: the campaign's last copy).
type Spare struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Last time.Time `json:"last"`
}

// InForce reports whether the spare still covers a copy at now, with the
// campaign's window.
func (sp *Spare) InForce(now time.Time, window time.Duration) bool {
	return sp != nil && now.Sub(sp.Last) <= window
}

// ErrNoCampaign is a spare of a campaign the store does not hold (never
// seen, or older than its record's retention).
var ErrNoCampaign = errors.New("no such campaign")

// spareSchema is the spares' tables, the same on SQLite and PostgreSQL,
// created outside the limits schema's versions (on PostgreSQL as the
// component "limits_spare", as the audit trail is): a milterd that does
// not know them ignores them, so a fleet upgrades host by host.
const spareSchema = `CREATE TABLE IF NOT EXISTS campaign_spared (id TEXT PRIMARY KEY, t BIGINT NOT NULL, op TEXT NOT NULL, last BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_spared_accounts (id TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (id, account));`

// SpareCampaign records that op spared accounts of campaign id at now,
// for the run of its last copy (Spare.Last); a second spare adds its
// accounts, keeps the first's who and when, and moves Last on to the
// campaign's last copy: the desk judged the run of now (a new run of the
// text after a gap found the first spare stale, review rspare5).
// ErrNoCampaign when id is not held.
func (s *SQLStore) SpareCampaign(ctx context.Context, id, op string, now time.Time, accounts []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var last int64
	if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT t FROM campaigns WHERE id = $1`), id).Scan(&last); errors.Is(err, sql.ErrNoRows) {
		return ErrNoCampaign
	} else if err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO campaign_spared (id, t, op, last) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET last = CASE WHEN excluded.last > campaign_spared.last THEN excluded.last ELSE campaign_spared.last END`, id, ms(now), op, last); err != nil {
		return err
	}
	for _, a := range accounts {
		if _, err := s.exec(ctx, tx, `INSERT INTO campaign_spared_accounts (id, account) VALUES ($1, $2) ON CONFLICT (id, account) DO NOTHING`, id, a); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// UnspareCampaign ends id's spare; it reports whether there was one.
func (s *SQLStore) UnspareCampaign(ctx context.Context, id string) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := s.exec(ctx, tx, `DELETE FROM campaign_spared WHERE id = $1`, id)
	if err != nil {
		return false, err
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM campaign_spared_accounts WHERE id = $1`, id); err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}

// SparedAccount reports whether account is among the spared of id, by a
// spare in force at now (now zero: listed, in force or not).
func (s *SQLStore) SparedAccount(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT 1 FROM campaign_spared s JOIN campaign_spared_accounts a ON a.id = s.id
		WHERE s.id = $1 AND a.account = $2 AND s.last >= $3`), id, account, ms(now.Add(-window))).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// UnlistSpared takes account off id's spare: a limit it crossed while
// suspended, found after the spare was recorded (review rspare8).
func (s *SQLStore) UnlistSpared(ctx context.Context, id, account string) error {
	_, err := s.exec(ctx, s.db, `DELETE FROM campaign_spared_accounts WHERE id = $1 AND account = $2`, id, account)
	return err
}

// TouchSpare moves id's spare on to a copy of its run at now (only a
// spare in force, and only forward) and reports whether account, the
// copy's sender, is spared by it: a copy of a campaign without a spare
// costs one read, and no write.
func (s *SQLStore) TouchSpare(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error) {
	var last int64
	var listed bool
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT last, EXISTS (SELECT 1 FROM campaign_spared_accounts WHERE id = $1 AND account = $2) FROM campaign_spared WHERE id = $1`), id, account).Scan(&last, &listed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if last < ms(now.Add(-window)) {
		return false, nil // stale: a new run
	}
	if last < ms(now) {
		if _, err := s.exec(ctx, s.db, `UPDATE campaign_spared SET last = $2 WHERE id = $1 AND last >= $3 AND last < $2`, id, ms(now), ms(now.Add(-window))); err != nil {
			return false, err
		}
	}
	return listed, nil
}

// CampaignSenders are all the accounts that sent id (CampaignByID reads
// the CampaignAccountsMax last).
func (s *SQLStore) CampaignSenders(ctx context.Context, id string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT account FROM campaign_accounts WHERE id = $1 ORDER BY account`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LiftCampaign lifts key's suspension only if it is one for campaign id
// (SuspendedFor), under the account's lock: a suspension for anything
// else, put in place since the caller read it, stays. Unlike Unsuspend,
// it acknowledges none of the account's other evidence (undeliverable
// recipients, networks): lifting a campaign's suspension says nothing
// about them (review rspare3).
func (s *SQLStore) LiftCampaign(ctx context.Context, key, id string) (bool, error) {
	tx, err := s.locked(ctx, key)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var js string
	if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT s FROM suspended WHERE key = $1`), key).Scan(&js); errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var susp Suspension
	if err := json.Unmarshal([]byte(js), &susp); err != nil {
		return false, err
	}
	if !SuspendedFor(&susp, id) {
		return false, nil
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM suspended WHERE key = $1`, key); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// SuspendedFor reports whether s is a suspension for campaign id.
func SuspendedFor(s *Suspension, id string) bool {
	if s == nil || s.Signal != SignalCampaign {
		return false
	}
	for _, sg := range s.Sightings {
		if sg.Signal == SignalCampaign && sg.Value == id {
			return true
		}
	}
	return false
}

// spareLua keeps the spare in the campaign's hash, whose expiry every
// copy extends (campaignLua): the spare lives exactly as long as the
// campaign, each spared account a field "spa:"+account. Only an existing
// hash: HSET on a missing key would make one that never expires.
// The spare's Last is the field "sparelast" (ms), set from the
// campaign's last copy ("t").
var spareLua = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSETNX', KEYS[1], 'spared', ARGV[1])
local t = tonumber(redis.call('HGET', KEYS[1], 't'))
local last = tonumber(redis.call('HGET', KEYS[1], 'sparelast') or '')
if not last or t > last then redis.call('HSET', KEYS[1], 'sparelast', t) end
for i = 2, #ARGV do redis.call('HSET', KEYS[1], 'spa:' .. ARGV[i], 1) end
return 1`)

// sparedLua is SparedAccount: the account's field and a spare in force
// (ARGV[2]: the oldest last copy in force, ms).
var sparedLua = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'spa:' .. ARGV[1]) == 0 then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'sparelast') or '')
if last and last >= tonumber(ARGV[2]) then return 1 end
return 0`)

// touchLua is TouchSpare (ARGV: now, the oldest last copy in force, the
// sender).
var touchLua = redis.NewScript(`
local last = tonumber(redis.call('HGET', KEYS[1], 'sparelast') or '')
if not last or last < tonumber(ARGV[2]) then return 0 end
if last < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'sparelast', ARGV[1]) end
return redis.call('HEXISTS', KEYS[1], 'spa:' .. ARGV[3])`)

// unspareLua deletes the spare and its accounts' fields.
var unspareLua = redis.NewScript(`
local had = redis.call('HDEL', KEYS[1], 'spared')
redis.call('HDEL', KEYS[1], 'sparelast')
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 4) == 'spa:' then redis.call('HDEL', KEYS[1], f) end
end
return had`)

// liftLua is LiftCampaign on Redis: the suspension deleted only if it is
// campaign id's (cjson reads it as SuspendedFor does).
var liftLua = redis.NewScript(`
local js = redis.call('HGET', KEYS[1], ARGV[1])
if not js then return 0 end
local s = cjson.decode(js)
if s.signal ~= 'campaign' or type(s.sightings) ~= 'table' then return 0 end
for _, sg in ipairs(s.sightings) do
  if sg.signal == 'campaign' and sg.value == ARGV[2] then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
    return 1
  end
end
return 0`)

func (r *Redis) SpareCampaign(ctx context.Context, id, op string, now time.Time, accounts []string) error {
	js, _ := json.Marshal(Spare{At: now, By: op})
	args := append([]any{string(js)}, anys(accounts)...)
	n, err := spareLua.Run(ctx, r.c, []string{campPrefix + "camp:" + id}, args...).Int()
	if err == nil && n < 0 {
		err = ErrNoCampaign
	}
	return err
}

func (r *Redis) UnspareCampaign(ctx context.Context, id string) (bool, error) {
	n, err := unspareLua.Run(ctx, r.c, []string{campPrefix + "camp:" + id}).Int()
	return n == 1, err
}

// decodeSpare is a spare as Redis keeps it: JSON, and its last copy (ms).
func decodeSpare(js, last string) (*Spare, error) {
	var sp Spare
	if err := json.Unmarshal([]byte(js), &sp); err != nil {
		return nil, err
	}
	n, _ := strconv.ParseInt(last, 10, 64)
	sp.Last = fromMS(n)
	return &sp, nil
}

func (r *Redis) SparedAccount(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error) {
	n, err := sparedLua.Run(ctx, r.c, []string{campPrefix + "camp:" + id}, account, ms(now.Add(-window))).Int()
	return n == 1, err
}

func (r *Redis) UnlistSpared(ctx context.Context, id, account string) error {
	return r.c.HDel(ctx, campPrefix+"camp:"+id, "spa:"+account).Err()
}

func (r *Redis) TouchSpare(ctx context.Context, id, account string, now time.Time, window time.Duration) (bool, error) {
	n, err := touchLua.Run(ctx, r.c, []string{campPrefix + "camp:" + id}, ms(now), ms(now.Add(-window)), account).Int()
	return n == 1, err
}

func (r *Redis) CampaignSenders(ctx context.Context, id string) ([]string, error) {
	return r.c.ZRange(ctx, campPrefix+"campa:"+id, 0, -1).Result()
}

func (r *Redis) LiftCampaign(ctx context.Context, key, id string) (bool, error) {
	n, err := liftLua.Run(ctx, r.c, []string{suspKey, suspUntilKey}, key, id).Int()
	return n == 1, err
}

// anys is ss as script arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// KeptCampaigns are the campaigns cs keeps (up to CampaignAccountsMax, the
// newest), for OtherUnspared: read once for every account a command
// judges.
func KeptCampaigns(ctx context.Context, cs CampaignStore, now time.Time) ([]Campaign, error) {
	return cs.Campaigns(ctx, now.Add(-recordTTL), CampaignAccountsMax)
}

// OtherUnspared are the campaigns account sent besides those of ids that
// the desk did not spare it of (listed in their spare, in force or not:
// listed, its copies were judged; not listed, a run under a spared
// campaign's id is not, review rspare5). A customer who signed two
// petitions is spared by a spare of both at once (review rspare4). They
// are read from the account's index of campaigns and, as that index is
// written apart from the campaign on Redis (a failure to write it is
// logged and left), from each campaign kept (KeptCampaigns, read by the
// caller; CampaignHasSender, written with the copy; review rspare4).
func OtherUnspared(ctx context.Context, cs CampaignStore, kept []Campaign, ids []string, account string) ([]string, error) {
	indexed, err := cs.AccountCampaigns(ctx, account, CampaignAccountsMax)
	if err != nil {
		return nil, err
	}
	var others []string
	for _, o := range append(indexed, kept...) {
		if slices.Contains(ids, o.ID) || slices.Contains(others, o.ID) {
			continue
		}
		if !slices.ContainsFunc(indexed, func(c Campaign) bool { return c.ID == o.ID }) {
			if sent, err := cs.CampaignHasSender(ctx, o.ID, account); err != nil || !sent {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		listed, err := cs.SparedAccount(ctx, o.ID, account, time.Time{}, 0)
		if err != nil {
			return nil, err
		}
		if !listed {
			others = append(others, o.ID)
		}
	}
	return others, nil
}

// LiftSpared lifts s, account's suspension for campaign id, which the
// desk spared it of (LiftCampaign: only that suspension), unless the
// account sent another campaign no spare covers (OtherUnspared, of kept,
// the campaigns the caller read). void, called once it is judged
// liftable and before the lift, records that its suspensions for id
// count toward no escalation: a suspension of the account between a lift
// and a void written after it would count the one being voided (review
// rspare7), and one written before the judgement voided a phishing
// sender's (review rspare6). The others are read again after the lift,
// the campaigns kept with them: a campaign established in between found
// the account suspended and recorded nothing, so s is put back (reviews
// rspare3, rspare4: the account went free, milterctl's lift or
// milterd's). It reports whether the account is lifted, and the other
// campaigns that kept it.
func LiftSpared(ctx context.Context, st Store, cs CampaignStore, s *Suspension, id string, kept []Campaign, now time.Time, void func() error) (bool, []string, error) {
	others, err := OtherUnspared(ctx, cs, kept, []string{id}, s.Key)
	if err != nil || len(others) > 0 {
		return false, others, err
	}
	if err := void(); err != nil {
		return false, nil, err
	}
	lifted, err := cs.LiftCampaign(ctx, s.Key, id)
	if err != nil || !lifted {
		return false, nil, err
	}
	if kept, err = KeptCampaigns(ctx, cs, now); err == nil {
		others, err = OtherUnspared(ctx, cs, kept, []string{id}, s.Key)
	}
	if err == nil && len(others) == 0 {
		return true, nil, nil
	}
	if perr := PutBack(ctx, st, s, id, now, "it sent campaign(s) "+strings.Join(others, " ")+" meanwhile"); perr != nil {
		return false, others, errors.Join(perr, err)
	}
	return false, others, err
}

// PutBack puts s, the suspension for campaign id a spare lifted, back
// (why: what the lift found), and undoes the spare's void in the trail
// (AuditPutBack): every suspension for id it voided counts toward
// escalation again (review rspare9: recorded again as one suspension, two
// were lost). Stamped after the void, whose time is the last suspension
// for id (s.Since at the latest), by whichever clock is later: the host
// putting it back may be behind milterd's (review rspare9).
func PutBack(ctx context.Context, st Store, s *Suspension, id string, now time.Time, why string) error {
	if _, err := st.Suspend(ctx, *s, now); err != nil {
		return fmt.Errorf("%s: putting its suspension back failed: %w", s.Key, err)
	}
	at := now
	if s.Since.After(at) {
		at = s.Since
	}
	ev := AuditEvent{Time: at.Add(time.Millisecond), Account: s.Key, Event: AuditPutBack, By: "milterd", Campaign: id, Detail: "a spare's lift undone: " + why}
	if err := st.Audit(ctx, ev); err != nil {
		return fmt.Errorf("recording %s's suspension put back: %w", s.Key, err)
	}
	return nil
}

// CampaignHasSender reports whether account sent campaign id.
func (s *SQLStore) CampaignHasSender(ctx context.Context, id, account string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT 1 FROM campaign_accounts WHERE id = $1 AND account = $2`), id, account).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (r *Redis) CampaignHasSender(ctx context.Context, id, account string) (bool, error) {
	err := r.c.ZScore(ctx, campPrefix+"campa:"+id, account).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// VoidCampaign records that account's automatic suspensions for campaign
// id so far count toward no escalation (voided): an AuditSpared event by
// by, at the time of the last of them (or of a put back after them),
// read from the trail itself, so
// that the clock of the host that spares (ahead of milterd's) cannot void
// a later one (review rspare4). None in the trail: nothing to void.
func VoidCampaign(ctx context.Context, st Store, account, id, by, host, detail string) error {
	trail, err := st.AuditTrail(ctx, account, time.Time{})
	if err != nil {
		return err
	}
	var last time.Time
	for _, ev := range trail {
		t := ev.Time
		if ev.Event == AuditPutBack {
			t = t.Add(time.Millisecond) // a put back undoes the voids at or before it: this one after it
		} else if ev.By != "milterd" || ev.Event != AuditSuspended && ev.Event != AuditEscalated {
			continue
		}
		if ev.Campaign == id && t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return nil
	}
	return st.Audit(ctx, AuditEvent{Time: last, Account: account, Event: AuditSpared, By: by, Host: host, Campaign: id, Detail: detail})
}
