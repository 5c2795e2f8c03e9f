package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// A spared campaign is one the abuse desk judged innocent (a petition
// whose signers write to their own MPs): it suspends no one any more,
// while every copy still gets campaign.action. The spare only stops
// suspensions, never lets a copy through: a run that joins a spared
// campaign, or a stolen account among its senders, is held as before
// (the spares reviews rspare and rspare2 broke let copies through).
// It lives as long as the campaign's record; a window without a copy
// ends the campaign, and a later one is a new campaign, not spared.

// Spare is who spared a campaign, and when.
type Spare struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

// ErrNoCampaign is a spare of a campaign the store does not hold (never
// seen, or older than its record's retention).
var ErrNoCampaign = errors.New("no such campaign")

// spareSchema is the spares' table, the same on SQLite and PostgreSQL,
// created outside the limits schema's versions (on PostgreSQL as the
// component "limits_spare", as the audit trail is): a milterd that does
// not know it ignores it, so a fleet upgrades host by host.
const spareSchema = `CREATE TABLE IF NOT EXISTS campaign_spared (id TEXT PRIMARY KEY, t BIGINT NOT NULL, op TEXT NOT NULL);`

// SpareCampaign records that id is spared by op at now; a second spare
// keeps the first's record. ErrNoCampaign when id is not held.
func (s *SQLStore) SpareCampaign(ctx context.Context, id, op string, now time.Time) error {
	res, err := s.exec(ctx, s.db, `INSERT INTO campaign_spared (id, t, op) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM campaigns WHERE id = $1)
		ON CONFLICT (id) DO NOTHING`, id, ms(now), op)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if sp, err := s.CampaignSpared(ctx, id); err != nil || sp != nil {
		return err // spared before
	}
	return ErrNoCampaign
}

// UnspareCampaign ends id's spare; it reports whether there was one.
func (s *SQLStore) UnspareCampaign(ctx context.Context, id string) (bool, error) {
	res, err := s.exec(ctx, s.db, `DELETE FROM campaign_spared WHERE id = $1`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
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

// spareLua sets the spare in the campaign's hash, whose expiry every copy
// extends (campaignLua): the spare lives exactly as long as the campaign.
// Only an existing hash: HSET on a missing key would make one that never
// expires.
var spareLua = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'spared', ARGV[1])`)

func (r *Redis) SpareCampaign(ctx context.Context, id, op string, now time.Time) error {
	js, _ := json.Marshal(Spare{At: now, By: op})
	n, err := spareLua.Run(ctx, r.c, []string{campPrefix + "camp:" + id}, string(js)).Int()
	if err == nil && n < 0 {
		err = ErrNoCampaign
	}
	return err
}

func (r *Redis) UnspareCampaign(ctx context.Context, id string) (bool, error) {
	n, err := r.c.HDel(ctx, campPrefix+"camp:"+id, "spared").Result()
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
	var sp Spare
	if err := json.Unmarshal([]byte(js), &sp); err != nil {
		return nil, err
	}
	return &sp, nil
}
