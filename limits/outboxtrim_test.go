package limits_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/internal/harness"
	"outguard/limits"
)

// enqueueRange puts webhook items a<from>..a<to-1> in st, a<i> created
// i seconds after base.
func enqueueRange(t *testing.T, st limits.Outbox, base time.Time, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		id := fmt.Sprint("a", i)
		if err := st.Enqueue(context.Background(), limits.OutboxItem{ID: id + " webhook", AlertID: id, Dest: limits.DestWebhook, Account: fmt.Sprint("u", i),
			Body: []byte(`{"id":"` + id + `"}`), Created: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
}

// alertIDs lists the items' alert ids.
func alertIDs(items []limits.OutboxItem) string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.AlertID)
	}
	return strings.Join(ids, " ")
}

// The trim drops the oldest items by Created, put back for a retry
// (due later than newer ones) or not, exactly the excess, and reads only
// those: the SQL stores delete them in one statement that returns them,
// Redis walks its index by Created.
func TestOutboxTrimOldestByCreated(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			now := time.Now()
			enqueueRange(t, st, now.Add(-time.Minute), 0, 6)
			// a0 and a1 fail once: due in an hour, after a2..a5.
			claimed, err := st.Claim(ctx, "mx1", now, time.Minute, 2)
			if err != nil || alertIDs(claimed) != "a0 a1" {
				t.Fatalf("claim: %v %v", alertIDs(claimed), err)
			}
			for _, it := range claimed {
				if err := st.Retry(ctx, it, "mx1", now.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			dropped, err := st.TrimOutbox(ctx, 3, now)
			if err != nil || alertIDs(dropped) != "a0 a1 a2" {
				t.Fatalf("trim to 3: dropped %q %v; want a0 a1 a2", alertIDs(dropped), err)
			}
			if dropped, err = st.TrimOutbox(ctx, 3, now); err != nil || len(dropped) != 0 {
				t.Fatalf("trim at the bound: dropped %q %v; want none", alertIDs(dropped), err)
			}
			items, err := st.OutboxItems(ctx)
			if err != nil || alertIDs(items) != "a3 a4 a5" {
				t.Fatalf("kept %q %v", alertIDs(items), err)
			}
		})
	}
}

// On Redis the trim reads the ids of the excess from og:outbox:created,
// never the whole outbox (no HVALS, HGETALL or HSCAN): a storm of 2,000
// items over a bound of 1,990 reads 10. An outbox written before the
// index (og:outbox:created missing) is indexed on the first trim and
// trimmed the same way.
func TestOutboxTrimRedisReadsTheExcess(t *testing.T) {
	ctx := context.Background()
	addr := harness.StartRedis(t).Addr
	st, err := limits.OpenRedis(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	now := time.Now()
	enqueueRange(t, st, now.Add(-time.Hour), 0, 2000)
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	dropped, err := st.TrimOutbox(ctx, 1990, now)
	if err != nil || alertIDs(dropped) != "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9" {
		t.Fatalf("dropped %q %v", alertIDs(dropped), err)
	}
	stats, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"hvals", "hgetall", "hscan", "scan"} {
		if strings.Contains(stats, "cmdstat_"+cmd+":") {
			t.Errorf("the trim read the outbox whole (%s):\n%s", cmd, stats)
		}
	}
	if n, _ := c.HLen(ctx, "og:outbox:it").Result(); n != 1990 {
		t.Errorf("%d items after the trim; want 1990", n)
	}
	if err := c.Del(ctx, "og:outbox:created").Err(); err != nil {
		t.Fatal(err)
	}
	if dropped, err = st.TrimOutbox(ctx, 1985, now); err != nil || alertIDs(dropped) != "a10 a11 a12 a13 a14" {
		t.Fatalf("an outbox without the index: dropped %q %v; want a10..a14", alertIDs(dropped), err)
	}
	if n, _ := c.ZCard(ctx, "og:outbox:created").Result(); n != 1985 {
		t.Errorf("index of %d ids; want 1985", n)
	}
}
