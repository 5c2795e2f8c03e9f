package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
// The spare is kept with the campaign's record and dies with it; a
// campaign established again after a window without a copy is a new run
// of the text under the same id (the text's key), and ends the spare
// (campaign/: UnspareCampaign).

// Spare is who spared a campaign, and when.
type Spare struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

// ErrNoCampaign is a spare of a campaign the store does not hold (never
// seen, or older than its record's retention).
var ErrNoCampaign = errors.New("no such campaign")

// spareSchema is the spares' tables, the same on SQLite and PostgreSQL,
// created outside the limits schema's versions (on PostgreSQL as the
// component "limits_spare", as the audit trail is): a milterd that does
// not know them ignores them, so a fleet upgrades host by host.
const spareSchema = `CREATE TABLE IF NOT EXISTS campaign_spared (id TEXT PRIMARY KEY, t BIGINT NOT NULL, op TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_spared_accounts (id TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (id, account));`

// SpareCampaign records that op spared accounts of campaign id at now; a
// second spare adds its accounts and keeps the first's record.
// ErrNoCampaign when id is not held.
func (s *SQLStore) SpareCampaign(ctx context.Context, id, op string, now time.Time, accounts []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT 1 FROM campaigns WHERE id = $1`), id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return ErrNoCampaign
	} else if err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO campaign_spared (id, t, op) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, id, ms(now), op); err != nil {
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

// CampaignSpared is id's spare, nil when it is not spared.
func (s *SQLStore) CampaignSpared(ctx context.Context, id string) (*Spare, error) {
	var t int64
	var sp Spare
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT t, op FROM campaign_spared WHERE id = $1`), id).Scan(&t, &sp.By)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sp.At = fromMS(t)
	return &sp, nil
}

// SparedAccount reports whether account is among the spared of id.
func (s *SQLStore) SparedAccount(ctx context.Context, id, account string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT 1 FROM campaign_spared_accounts WHERE id = $1 AND account = $2`), id, account).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
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
var spareLua = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSETNX', KEYS[1], 'spared', ARGV[1])
for i = 2, #ARGV do redis.call('HSET', KEYS[1], 'spa:' .. ARGV[i], 1) end
return 1`)

// unspareLua deletes the spare and its accounts' fields.
var unspareLua = redis.NewScript(`
local had = redis.call('HDEL', KEYS[1], 'spared')
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

func (r *Redis) CampaignSpared(ctx context.Context, id string) (*Spare, error) {
	js, err := r.c.HGet(ctx, campPrefix+"camp:"+id, "spared").Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeSpare(js)
}

func decodeSpare(js string) (*Spare, error) {
	var sp Spare
	if err := json.Unmarshal([]byte(js), &sp); err != nil {
		return nil, err
	}
	return &sp, nil
}

func (r *Redis) SparedAccount(ctx context.Context, id, account string) (bool, error) {
	return r.c.HExists(ctx, campPrefix+"camp:"+id, "spa:"+account).Result()
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
