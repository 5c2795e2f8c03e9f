package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/campaign"
	"outguard/internal/hamgen"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

var discard = slog.New(slog.DiscardHandler)

// TestReviewSeedSplitRedis: a Redis without persistence loses its data
// (restarted or flushed: FLUSHALL here) while a fleet runs. Host mx1 had
// read the seed; mx2, started after the loss, stores another. Within
// SeedRecheck both count under one seed again (mx1 takes the store's),
// and a run alternating between them after that is found at the 5th
// account in all and its next copy held. The other order too: a host
// that rechecks first after a loss stores its seed back and a host
// started later reads it. Before: mx1 kept the old seed until it
// restarted, the fleet split in two, and the run was found by neither
// host (3 accounts under each seed).
func TestReviewSeedSplitRedis(t *testing.T) {
	ctx := context.Background()
	rd := harness.StartRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer rc.Close()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	type host struct {
		src *campaign.SeedSource
		eng *campaign.Engine
		n   *campaign.CountingSeeds
		st  limits.CampaignStore
	}
	start := func(name string) host {
		st, err := limits.OpenRedis(ctx, rd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		pol, _ := limits.NewPolicy(limits.Limits{}, nil)
		lim := &limits.Engine{Store: st, Policy: pol, Log: discard, Now: clock, Accounts: limits.Accounts{Host: name}, SuspendFor: limits.Day}
		cs := &campaign.CountingSeeds{SeedStore: st}
		src := campaign.StoreSeed(cs)
		campaign.SetSeedClock(src, clock)
		return host{src: src, n: cs, st: st, eng: campaign.New(campaign.Options{Store: st, Limits: lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine,
			SharedDomains: []string{"isp.example"}, Seed: src, Log: discard, Now: clock})}
	}
	send := func(h host, c int) policy.Verdict {
		now = now.Add(10 * time.Second)
		rcpt, raw := hamgen.Phish(c, c%2 == 1)
		v, err := h.eng.Commit(ctx, &policy.Transaction{User: fmt.Sprintf("victim%d@isp.example", c), Rcpts: []string{rcpt}, Message: bytes.NewReader(raw), QueueID: fmt.Sprint("Q", c)})
		if err != nil {
			t.Fatalf("copy %d: %v", c, err)
		}
		return v
	}
	mx1 := start("mx1")
	send(mx1, 0)
	old, _ := mx1.src.Known()
	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mx2 := start("mx2")
	send(mx2, 1)
	if s, _ := mx2.src.Known(); s == old {
		t.Fatal("mx2 read the lost seed")
	}
	// A recheck period after the loss, the run goes on over both hosts:
	// copy 1 (mx2's) was counted under the store's seed, so copy 5 is
	// the 5th account.
	now = now.Add(campaign.SeedRecheck)
	for c := 2; c <= 6; c++ {
		v := send([]host{mx1, mx2}[c%2], c)
		list, err := mx1.st.Campaigns(ctx, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c < 5 && (v.Action != policy.Accept || len(list) != 0):
			t.Fatalf("copy %d: %v, %d campaigns", c, v, len(list))
		case c == 5 && len(list) != 1:
			t.Fatalf("the 5th account after the recheck (copy %d): %d campaigns, want one: the fleet is split on two seeds", c, len(list))
		case c == 6 && v.Action != policy.Quarantine:
			t.Fatalf("the next copy: %v, want held", v)
		}
	}
	s1, _ := mx1.src.Known()
	s2, _ := mx2.src.Known()
	if s1 != s2 || s1 == old {
		t.Fatalf("after the recheck: mx1 and mx2 on one seed %v, mx1 on the lost one %v", s1 == s2, s1 == old)
	}
	// Not a round trip per message: one recheck each in the period.
	if a, b := mx1.n.Reads(), mx2.n.Reads(); a != 2 || b != 2 {
		t.Errorf("store asked for the seed %d and %d times, want 2 each (first read, one recheck)", a, b)
	}

	// The other order: lost again; mx1 rechecks first and stores its
	// seed back; a host started then reads it, and mx2 keeps it.
	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(campaign.SeedRecheck)
	send(mx1, 10)
	mx3 := start("mx3")
	send(mx3, 11)
	send(mx2, 12)
	for i, h := range []host{mx1, mx2, mx3} {
		if s, _ := h.src.Known(); s != s1 {
			t.Fatalf("mx%d: another seed after the store was given back mx1's", i+1)
		}
	}

	// Many messages at once when a recheck is due: one of them asks the
	// store, the others count under the seed read before.
	now = now.Add(campaign.SeedRecheck)
	before := mx1.n.Reads()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if s, err := mx1.src.Get(ctx, discard); err != nil || s != s1 {
				t.Errorf("a recheck at once: %v, the seed kept %v", err, s == s1)
			}
		})
	}
	wg.Wait()
	if n := mx1.n.Reads() - before; n != 1 {
		t.Errorf("16 messages at a recheck asked the store %d times, want 1", n)
	}

	// Garbage planted in the store: a host that read the seed keeps it
	// (and logs), a host starting fails its counts (on_error), never
	// the published sampling.
	if err := rc.Set(ctx, "og:campaignseed", "zz", 0).Err(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(campaign.SeedRecheck)
	if s, err := mx1.src.Get(ctx, discard); err != nil || s != s1 {
		t.Fatalf("garbage at a recheck: %v, kept %v", err, s == s1)
	}
	if s, err := campaign.StoreSeed(mx1.n).Get(ctx, discard); err == nil {
		t.Fatalf("a new host took the garbage: %v", s)
	}

	// The store hung (SIGSTOP) at a recheck: bounded by the message's
	// deadline, the seed read before kept.
	if err := rc.Del(ctx, "og:campaignseed").Err(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(campaign.SeedRecheck)
	rd.Pause()
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	began := time.Now()
	s, err := mx2.src.Get(tctx, discard)
	cancel()
	rd.Resume()
	if err != nil || s != s1 || time.Since(began) > 3*time.Second {
		t.Fatalf("hung store at a recheck: %v, kept %v, after %v", err, s == s1, time.Since(began))
	}
}
