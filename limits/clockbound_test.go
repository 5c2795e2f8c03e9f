package limits_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// Issue 32's clock skew, its bound on both shared stores: Redis' admit
// scripts (rollLua, Redis' TIME ± RedisOptions.MaxClockSkew) and
// PostgreSQL's trigger (clock.go, clock_timestamp() ±
// outguard.max_clock_skew), at the default (120 s), at 30 s and off. The rule
// is judged on the slot's buckets: a host ahead is refused from the first
// minute that starts after the store's time + the tolerance, one behind
// from the last minute that ends before the oldest minute still counted
// at the store's time − the tolerance. Each case first puts into the
// slot the bucket a ring older than the roller's, then rolls it; a
// refused roll is ErrClockSkew and writes nothing (the usage the roller
// sees is unchanged). The servers run on this machine: their clock is the test's.
func TestClockSkewBound(t *testing.T) {
	ctx := context.Background()
	rd := harness.StartRedis(t).Addr
	dsn := harness.StartPostgres(t).DSN
	redisStore := func(skew time.Duration) func() (limits.Store, error) {
		return func() (limits.Store, error) {
			return limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: rd, MaxClockSkew: skew})
		}
	}
	pgStore := func(setting string) func() (limits.Store, error) {
		return func() (limits.Store, error) { return limits.OpenPostgres(ctx, dsn+setting) }
	}
	for _, s := range []struct {
		name string
		tol  time.Duration // 0: the check off
		open func() (limits.Store, error)
	}{
		{"redis default", 120 * time.Second, redisStore(0)},
		{"redis 30s", 30 * time.Second, redisStore(30 * time.Second)},
		{"redis off", 0, redisStore(-1)},
		{"postgres default", 120 * time.Second, pgStore("")},
		{"postgres 30s", 30 * time.Second, pgStore(" outguard.max_clock_skew=30")},
		{"postgres off", 0, pgStore(" outguard.max_clock_skew=0")},
	} {
		t.Run(s.name, func(t *testing.T) {
			st := openClients(t, s.open, 1)[0]
			tol := s.tol
			if tol == 0 {
				tol = 120 * time.Second // where the cases' clocks are; none refused
			}
			commit := func(key string, at time.Time) error {
				return commitAt(ctx, st, key, fmt.Sprint(key, at.UnixMilli()), at)
			}
			for _, c := range []struct {
				name string
				at   func(now time.Time) time.Time // the roller's clock
				skew bool
			}{
				{"ahead by the tolerance less a second", func(now time.Time) time.Time { return now.Add(tol - time.Second) }, false},
				{"ahead, the last minute allowed", func(now time.Time) time.Time { return aheadEdge(now, tol).Add(-time.Millisecond) }, false},
				{"ahead, the first minute refused", func(now time.Time) time.Time { return aheadEdge(now, tol) }, true},
				{"behind, the oldest minute allowed", func(now time.Time) time.Time { return behindEdge(now, tol) }, false},
				{"behind, the first minute refused", func(now time.Time) time.Time { return behindEdge(now, tol).Add(-time.Millisecond) }, true},
				{"a day ahead (the hour ring)", nil, true},
			} {
				key := s.name + " " + c.name
				now := awayFromEdges(tol)
				at := c.at
				if at == nil {
					// The hour slot holds this hour's bucket, the minute
					// slot nothing: only the hour ring judges the roll.
					if err := commit(key, now); err != nil {
						t.Fatalf("%s: the slot's first bucket: %v", c.name, err)
					}
					at = func(now time.Time) time.Time {
						if now.Minute() == 59 {
							return now.Add(24*time.Hour - time.Minute)
						}
						return now.Add(24*time.Hour + time.Minute)
					}
				} else if err := commit(key, at(now).Add(-time.Hour)); err != nil {
					t.Fatalf("%s: the slot's first bucket: %v", c.name, err)
				}
				u0, _, uerr := st.Usage(ctx, key, at(now))
				if uerr != nil {
					t.Fatal(uerr)
				}
				err := commit(key, at(now))
				u, _, uerr := st.Usage(ctx, key, at(now))
				switch {
				case uerr != nil:
					t.Fatal(uerr)
				case c.skew && s.tol > 0 && !errors.Is(err, limits.ErrClockSkew):
					t.Errorf("%s (%v off): %v, want ErrClockSkew", c.name, at(now).Sub(now), err)
				case c.skew && s.tol > 0 && (u.MessagesHour != u0.MessagesHour || u.MessagesDay != u0.MessagesDay):
					t.Errorf("%s: refused but written: %+v, before %+v", c.name, u, u0)
				case (!c.skew || s.tol == 0) && err != nil:
					t.Errorf("%s (%v off): %v, want the slot rolled", c.name, at(now).Sub(now), err)
				}
			}
		})
	}
}

// aheadEdge is the first instant a host's minute bucket is past the
// store's time now + tol.
func aheadEdge(now time.Time, tol time.Duration) time.Time {
	return now.Add(tol).Truncate(time.Minute).Add(time.Minute)
}

// behindEdge is the start of the oldest minute bucket still counted (an
// hour's window) at the store's time now − tol.
func behindEdge(now time.Time, tol time.Duration) time.Time {
	return now.Add(-tol).Truncate(time.Minute).Add(-59 * time.Minute)
}

// commitAt commits one message of key, queue id qid, one recipient and no
// limit, sent at at by the host's clock: an error unless it is admitted.
func commitAt(ctx context.Context, st limits.Store, key, qid string, at time.Time) error {
	_, ok, _, _, err := st.CommitMessage(ctx, key, limits.Sent{Host: "mx", QueueID: qid, Rcpts: []string{"r"}, Time: at}, limits.Limits{}, nil, at)
	if err == nil && !ok {
		err = errors.New("not admitted")
	}
	return err
}

// awayFromEdges returns the time once now ± tol are at least two seconds
// from their minute's end, so that the store's clock, read a moment
// later, judges by the same minutes as the test.
func awayFromEdges(tol time.Duration) time.Time {
	for {
		now := time.Now()
		near := false
		for _, x := range []time.Time{now.Add(tol), now.Add(-tol)} {
			if x.Truncate(time.Minute).Add(time.Minute).Sub(x) < 2*time.Second {
				near = true
			}
		}
		if !near {
			return now
		}
		time.Sleep(time.Second)
	}
}

// A host whose clock is behind the others' erases nothing, however far
// behind: the slot of its time holds the others' later bucket (refused:
// ErrClockSkew) or a bucket a whole ring older than its own, which no
// longer counted; a roll to a bucket nobody reads any more is refused by
// the store's clock. Three messages counted now on a correct clock stay
// counted whatever the hosts behind send.
func TestClockSkewBehindErasesNothing(t *testing.T) {
	ctx := context.Background()
	for name, open := range storeOpeners(t) {
		if name == "sqlite" {
			continue // one machine, one clock
		}
		t.Run(name, func(t *testing.T) {
			sts := openClients(t, open, 2)
			now := awayFromEdges(0)
			commit := func(st limits.Store, q string, at time.Time) error {
				_, _, _, _, err := st.CommitMessage(ctx, "behind", limits.Sent{Host: "mx", QueueID: q, Rcpts: []string{"r"}, Time: at}, limits.Limits{}, nil, at)
				return err
			}
			for i := range 3 {
				if err := commit(sts[0], fmt.Sprint("now", i), now); err != nil {
					t.Fatal(err)
				}
			}
			for _, off := range []time.Duration{30 * time.Minute, 59 * time.Minute, time.Hour, time.Hour + time.Minute, 2 * time.Hour, 23 * time.Hour, 24 * time.Hour, 25 * time.Hour, 48 * time.Hour} {
				err := commit(sts[1], fmt.Sprint("behind", off), now.Add(-off))
				u, _, uerr := sts[0].Usage(ctx, "behind", now)
				if uerr != nil {
					t.Fatal(uerr)
				}
				if u.MessagesHour < 3 || u.MessagesDay < 3 {
					t.Errorf("a host %v behind (%v): %+v, the three counted now erased", off, err, u)
				}
				if err != nil && !errors.Is(err, limits.ErrClockSkew) {
					t.Errorf("a host %v behind: %v", off, err)
				}
			}
		})
	}
}

// The admit script with a campaign copy in it (admitCampaignScript) judges
// the roll as admitScript does, and a refused message counts no copy:
// account a0's message from a host an hour ahead gets ErrClockSkew, so
// four more accounts' copies of its text are four, not the campaign's
// fifth. Before, a0's copy was counted (its roll erased its own count)
// and the fourth other account's copy established a campaign.
func TestClockSkewCampaignFolded(t *testing.T) {
	ctx := context.Background()
	st := openClients(t, storeOpeners(t)["redis"], 1)[0]
	now := time.Now()
	ahead := now.Add(time.Hour)
	if ok, _, err := commitCopy(ctx, st, "a0", "ownx", limits.Limits{}, now); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, _, err := commitCopy(ctx, st, "a0", "skewx", limits.Limits{}, ahead); !errors.Is(err, limits.ErrClockSkew) {
		t.Fatalf("a0 from a host an hour ahead: %v, want ErrClockSkew", err)
	}
	for i := 1; i <= 4; i++ {
		ok, res, err := commitCopy(ctx, st, fmt.Sprint("a", i), "skewx", limits.Limits{}, ahead)
		if !ok || err != nil || res.New || res.Known {
			t.Errorf("a%d: admitted %v, %+v, %v; a0's refused copy was counted", i, ok, res, err)
		}
	}
}
