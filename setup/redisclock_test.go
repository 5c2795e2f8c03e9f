package setup_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"outguard/config"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

// limits.redis.max_clock_skew reaches the Redis store: by default (120 s)
// a host an hour ahead is refused the roll of the others' minute slot
// (limits.ErrClockSkew); 0 turns the check off, as PostgreSQL's
// outguard.max_clock_skew = 0.
func TestRedisMaxClockSkewFromConfig(t *testing.T) {
	ctx := context.Background()
	addr := harness.StartRedis(t).Addr
	for _, c := range []struct {
		yaml string
		skew bool
	}{
		{"", true},
		{"    max_clock_skew: 0s\n", false},
	} {
		cfg, err := config.Parse("t.yaml", []byte("limits:\n  store: redis\n  redis:\n    address: "+addr+"\n"+c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		st, err := setup.OpenLimitsStore(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		key := fmt.Sprint("skew ", c.skew)
		now := time.Now()
		var errs []error
		for i, at := range []time.Time{now, now.Add(time.Hour)} {
			_, _, _, _, err := st.CommitMessage(ctx, key, limits.Sent{Host: "mx", QueueID: fmt.Sprint(i), Rcpts: []string{"r"}, Time: at}, limits.Limits{}, nil, at)
			errs = append(errs, err)
		}
		if errs[0] != nil || errors.Is(errs[1], limits.ErrClockSkew) != c.skew || !c.skew && errs[1] != nil {
			t.Errorf("config %q: a correct host %v, a host an hour ahead %v; want ErrClockSkew %v", c.yaml, errs[0], errs[1], c.skew)
		}
	}
}
