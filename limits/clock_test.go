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

// Issue 32's clock skew on PostgreSQL (schema 13, clock.go): a slot rolls
// to a later bucket only if, by the store's clock give or take
// outguard.max_clock_skew (120 s unless set), the bucket it holds no
// longer counts and the one it rolls to still does. Each case first puts
// into the slot the bucket a ring older than the roller's, then rolls it.
func TestClockSkewStoreClock(t *testing.T) {
	ctx := context.Background()
	dsn := harness.StartPostgres(t).DSN
	open := func(dsn string) limits.Store {
		st, err := limits.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, off := open(dsn), open(dsn+" outguard.max_clock_skew=0")
	now := time.Now()
	commit := func(st limits.Store, key string, at time.Time) error {
		return commitAt(ctx, st, key, fmt.Sprint(key, at.Unix()), at)
	}
	for _, c := range []struct {
		name string
		st   limits.Store
		off  time.Duration // the roller's clock against the store's
		skew bool
	}{
		{"a minute ahead, within the tolerance", st, time.Minute, false},
		{"ten minutes ahead", st, 10 * time.Minute, true},
		{"two hours behind", st, -2 * time.Hour, true},
		{"ten minutes ahead, the check off", off, 10 * time.Minute, false},
	} {
		key := "roll " + c.name
		at := now.Add(c.off)
		if err := commit(c.st, key, at.Add(-time.Hour)); err != nil {
			t.Fatalf("%s: the slot's first bucket: %v", c.name, err)
		}
		err := commit(c.st, key, at)
		u, _, uerr := st.Usage(ctx, key, at)
		switch {
		case uerr != nil:
			t.Fatal(uerr)
		case c.skew && !errors.Is(err, limits.ErrClockSkew):
			t.Errorf("%s: %v, want ErrClockSkew", c.name, err)
		case c.skew && u.MessagesDay != 1:
			t.Errorf("%s: refused but counted: %+v", c.name, u)
		case !c.skew && err != nil:
			t.Errorf("%s: %v, want the slot rolled", c.name, err)
		}
	}
}
