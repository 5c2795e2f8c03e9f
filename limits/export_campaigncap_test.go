package limits

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetCampaignKeySenders makes st keep n senders per campaign key rather
// than CampaignKeySenders: the tests reach the bound with fewer copies,
// through the same statements, script and og_campaign (its p_n[9]).
func SetCampaignKeySenders(st Store, n int) {
	switch s := st.(type) {
	case *SQLStore:
		s.ksend = n
	case *Redis:
		s.ksend = n
	default:
		panic(fmt.Sprintf("SetCampaignKeySenders: %T", st))
	}
}

// FillCampaignKey records n senders of key ("fill0"… "fill<n-1>", the
// later the greater i, the last at t), each of which reached rcpt: the
// state a text sent by n accounts leaves, written directly (issue 28's
// measurement of a petition's cost), into a key that holds none yet.
func FillCampaignKey(ctx context.Context, st Store, key string, n int, rcpt string, t time.Time) error {
	switch s := st.(type) {
	case *SQLStore:
		_, err := s.exec(ctx, s.db, `INSERT INTO campaign_keys (fkey, account, t, grp, rcpts)
			WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1)
			SELECT $2, 'fill' || CAST(i AS TEXT), CAST($3 AS BIGINT) - ($1 - 1 - i), '', $4 FROM n`, n, key, ms(t), rcpt)
		return err
	case *Redis:
		for i := 0; i < n; i += 1000 {
			p := s.c.Pipeline()
			for j := i; j < min(i+1000, n); j++ {
				a := fmt.Sprint("fill", j)
				p.ZAdd(ctx, campPrefix+"ck:"+key, redis.Z{Score: float64(ms(t) - int64(n-1-j)), Member: a})
				p.HSet(ctx, campPrefix+"cr:"+key, a, "|"+rcpt)
			}
			p.PExpire(ctx, campPrefix+"ck:"+key, time.Hour)
			p.PExpire(ctx, campPrefix+"cr:"+key, time.Hour)
			if _, err := p.Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("FillCampaignKey: %T", st)
}

// CampaignKeySendersOf are the senders of key the store keeps, sorted
// (on Redis the sorted set's members, which must be the reach hash's
// fields).
func CampaignKeySendersOf(ctx context.Context, st Store, key string) ([]string, error) {
	var out []string
	switch s := st.(type) {
	case *SQLStore:
		rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT account FROM campaign_keys WHERE fkey = $1`), key)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	case *Redis:
		var err error
		if out, err = s.c.ZRange(ctx, campPrefix+"ck:"+key, 0, -1).Result(); err != nil {
			return nil, err
		}
		h, err := s.c.HKeys(ctx, campPrefix+"cr:"+key).Result()
		if err != nil {
			return nil, err
		}
		// the reaches are the senders', and a list's t0 (its account
		// and a newline) goes with its sender
		var reaches []string
		for _, f := range h {
			if a, ok := strings.CutSuffix(f, "\n"); !ok {
				reaches = append(reaches, f)
			} else if !slices.Contains(out, a) {
				return nil, fmt.Errorf("key %s: the t0 of %s, no sender", key, a)
			}
		}
		slices.Sort(reaches)
		if !slices.Equal(reaches, slices.Sorted(slices.Values(out))) {
			return nil, fmt.Errorf("key %s: %d senders, %d reaches", key, len(out), len(reaches))
		}
	default:
		return nil, fmt.Errorf("CampaignKeySendersOf: %T", st)
	}
	slices.Sort(out)
	return out, nil
}

// SettleCampaignKeys vacuums PostgreSQL's campaign_keys, as its
// autovacuum does after many rows were deleted at once (the first copy of
// a key filled directly trims it); nothing elsewhere.
func SettleCampaignKeys(ctx context.Context, st Store) error {
	if s, ok := st.(*SQLStore); ok && s.server {
		_, err := s.db.ExecContext(ctx, `VACUUM ANALYZE campaign_keys`)
		return err
	}
	return nil
}

// CampaignCopyVersion15 counts c on PostgreSQL as a milterd of schema
// version 15 does against a store of version 16 (a fleet upgraded one
// host at a time): og_campaign with p_n of 8 numbers, no bound.
func CampaignCopyVersion15(ctx context.Context, st Store, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	s := st.(*SQLStore)
	args := s.campaignArgs(&CampaignCount{Copy: c, Window: window, Threshold: threshold})
	n := args[len(args)-1].([]int64)
	args[len(args)-1] = n[:8]
	var js sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT og_campaign($1, $2, $3, $4, $5, $6)`, args...).Scan(&js); err != nil {
		return CampaignResult{}, err
	}
	return campaignReply(js)
}
