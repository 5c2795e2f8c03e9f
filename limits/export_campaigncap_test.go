package limits

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

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

// CampaignKeySendersOf is how many senders of key the store keeps (on
// Redis: the sorted set's members and the reach hash's fields, which
// must agree).
func CampaignKeySendersOf(ctx context.Context, st Store, key string) (int, error) {
	switch s := st.(type) {
	case *SQLStore:
		var n int
		err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT COUNT(*) FROM campaign_keys WHERE fkey = $1`), key).Scan(&n)
		return n, err
	case *Redis:
		n, err := s.c.ZCard(ctx, campPrefix+"ck:"+key).Result()
		if err != nil {
			return 0, err
		}
		h, err := s.c.HLen(ctx, campPrefix+"cr:"+key).Result()
		if err != nil {
			return 0, err
		}
		if h != n {
			return 0, fmt.Errorf("key %s: %d senders, %d reaches", key, n, h)
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("CampaignKeySendersOf: %T", st)
}
