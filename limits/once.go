package limits

import (
	"context"
	"time"
)

// Once is the fleet's memory of alerts sent once per window (a limit
// reached: once per account, limit and window): whichever milterd of a
// fleet sharing the store claims a key first sends the alert, the others
// do not. A claim is one conditional write, and it expires with its
// window.
type Once interface {
	// ClaimOnce records key until until unless a claim of key is still
	// in force at now; it reports whether it did (the caller sends).
	ClaimOnce(ctx context.Context, key string, until, now time.Time) (bool, error)
}

// onceSchema is version 9 on both databases. Purge forgets the claims
// whose window is over.
const onceSchema = `
CREATE TABLE IF NOT EXISTS once (key TEXT PRIMARY KEY, until BIGINT NOT NULL);
`

// ClaimOnce is an insert that updates only an expired claim: of two
// writers, the second's conflict finds the first's claim in force and
// changes nothing (PostgreSQL re-checks the WHERE on the committed row;
// SQLite writes one at a time).
func (s *SQLStore) ClaimOnce(ctx context.Context, key string, until, now time.Time) (bool, error) {
	res, err := s.exec(ctx, s.db, `INSERT INTO once (key, until) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE once.until <= $3`, key, ms(until), ms(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClaimOnce is SET NX with the window as the key's expiry: Redis forgets
// it when the window ends.
func (r *Redis) ClaimOnce(ctx context.Context, key string, until, now time.Time) (bool, error) {
	ttl := until.Sub(now)
	if ttl < time.Millisecond {
		return true, nil // the window is over already: nothing to remember
	}
	return r.c.SetNX(ctx, "og:once:"+key, ms(until), ttl).Result()
}
