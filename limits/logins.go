package limits

import (
	"context"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SightingAddress is the kind of sighting that records a client address
// an account logged in from (sightLogin, every SASL login from outside
// the trusted networks). It is no signal: nothing counts it against a
// limit, and Sightings leaves it out. It is the index relayprobe's
// blocklist watch maps a listed address to accounts by (milterctl
// accounts by-ip): a network sighting keeps only the last address of its
// /24.
const SightingAddress = "address"

// Login is an account seen logging in from an address, last at Last.
type Login struct {
	Addr    netip.Addr `json:"addr"`
	Account string     `json:"account"`
	Last    time.Time  `json:"last"`
}

// LoginIndex finds the accounts that logged in from an address, from an
// index (no scan of every account): SQLStore and Redis implement it.
type LoginIndex interface {
	// LoginsFrom returns the accounts last seen logging in from addr
	// after since (the retention of sightings: 7 days), most recent
	// first.
	LoginsFrom(ctx context.Context, addr netip.Addr, since time.Time) ([]Login, error)
}

// loginsIndex serves SQLStore.LoginsFrom. Not a schema version of its own
// (versions 5 to 8 are others'): an index over the sightings table of
// version 3, created where it is missing (SQLite: at every open, a no-op
// once there; PostgreSQL: once, as its own component, because CREATE
// INDEX there locks the table against writers even when it exists).
const loginsIndex = `CREATE INDEX IF NOT EXISTS sightings_by_value ON sightings (kind, value, t);`

func (s *SQLStore) LoginsFrom(ctx context.Context, addr netip.Addr, since time.Time) ([]Login, error) {
	addr = addr.Unmap()
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(`SELECT key, t FROM sightings WHERE kind = $1 AND value = $2 AND t > $3 ORDER BY t DESC, key`),
		SightingAddress, addr.String(), ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Login
	for rows.Next() {
		l := Login{Addr: addr}
		var t int64
		if err := rows.Scan(&l.Account, &t); err != nil {
			return nil, err
		}
		l.Last = fromMS(t)
		out = append(out, l)
	}
	return out, rows.Err()
}

// addrKey is the Redis sorted set of the accounts that logged in from a
// (account -> last seen ms), written by sightScript.
func addrKey(a netip.Addr) string { return "og:addr:" + a.Unmap().String() }

func (r *Redis) LoginsFrom(ctx context.Context, addr netip.Addr, since time.Time) ([]Login, error) {
	zs, err := r.c.ZRevRangeByScoreWithScores(ctx, addrKey(addr), &redis.ZRangeBy{Min: "(" + strconv.FormatInt(ms(since), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Login, 0, len(zs))
	for _, z := range zs {
		a, _ := z.Member.(string)
		out = append(out, Login{Addr: addr.Unmap(), Account: a, Last: fromMS(int64(z.Score))})
	}
	sort.SliceStable(out, func(i, j int) bool { // as the SQL stores order them
		return out[i].Last.After(out[j].Last) || out[i].Last.Equal(out[j].Last) && out[i].Account < out[j].Account
	})
	return out, nil
}
