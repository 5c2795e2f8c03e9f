package limits_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/internal/harness"
	"outguard/limits"
)

// The abuse desk spares a campaign on each store: it reads back spared
// (by whom, when, until when) in CampaignByID, Campaigns and
// AccountCampaigns; CampaignSpared says so of an account that had sent it
// by then until the spare ends and not after, never of one that sends it
// later or never did; sparing an unknown campaign is refused and records
// nothing; the campaign's copies go on being counted.
func TestCampaignSpare(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Truncate(time.Millisecond)
			var id string
			for i := range 6 {
				res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("petition", false), Account: fmt.Sprint("signer", i), Subject: "Save the ward", Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil {
					t.Fatal(err)
				}
				id = max(id, res.ID)
			}
			if id == "" {
				t.Fatal("no campaign")
			}
			if c, err := cs.CampaignSpared(ctx, id, "signer0", now); c || err != nil {
				t.Fatalf("spared before SpareCampaign: %v %v", c, err)
			}
			until := now.Add(7 * 24 * time.Hour)
			if ok, err := cs.SpareCampaign(ctx, id, now, until, "abuse-desk"); !ok || err != nil {
				t.Fatalf("SpareCampaign: %v %v", ok, err)
			}
			if ok, err := cs.SpareCampaign(ctx, "t1nosuchcampaign", now, until, "abuse-desk"); ok || err != nil {
				t.Fatalf("SpareCampaign of an unknown campaign: %v %v", ok, err)
			}
			if c, err := cs.CampaignSpared(ctx, "t1nosuchcampaign", "signer0", now); c || err != nil {
				t.Fatalf("an unknown campaign spared: %v %v", c, err)
			}
			for _, at := range []struct {
				t    time.Time
				want bool
			}{{now, true}, {until.Add(-time.Millisecond), true}, {until, false}, {until.Add(time.Hour), false}} {
				if c, err := cs.CampaignSpared(ctx, id, "signer5", at.t); c != at.want || err != nil {
					t.Errorf("CampaignSpared at %v: %v %v, want %v", at.t.Sub(now), c, err, at.want)
				}
			}
			want := limits.CampaignSpare{At: now, Until: until, By: "abuse-desk"}
			c, err := cs.CampaignByID(ctx, id)
			if err != nil || c == nil || c.Spared == nil || !c.Spared.At.Equal(want.At) || !c.Spared.Until.Equal(want.Until) || c.Spared.By != want.By {
				t.Fatalf("CampaignByID: %+v %v, want spared %+v", c, err, want)
			}
			list, err := cs.Campaigns(ctx, now.Add(-time.Minute), 10)
			if err != nil || len(list) != 1 || list[0].Spared == nil || list[0].Spared.By != "abuse-desk" {
				t.Fatalf("Campaigns: %+v %v", list, err)
			}
			mine, err := cs.AccountCampaigns(ctx, "signer0", 10)
			if err != nil || len(mine) != 1 || mine[0].Spared == nil {
				t.Fatalf("AccountCampaigns: %+v %v", mine, err)
			}
			// Its copies are still counted: a seventh signer's, a
			// millisecond after the spare, is Known.
			res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("petition", false), Account: "signer6", Subject: "Save the ward", Time: now.Add(time.Millisecond), Bands: 5}, 15*time.Minute, 5)
			if err != nil || !res.Known || res.ID != id {
				t.Fatalf("a copy after the spare: %+v %v", res, err)
			}
			for _, a := range []string{"signer6", "nobody"} {
				if c, err := cs.CampaignSpared(ctx, id, a, now); c || err != nil {
					t.Errorf("%s, who had not sent it when it was spared: spared %v %v", a, c, err)
				}
			}
		})
	}
}

// A spare outlives the campaign record's retention: a campaign whose last
// copy was six days ago, spared for seven, is still there and spared
// after the record would have been purged (SQLite, PostgreSQL: Purge two
// days on; Redis: its record's and its accounts' times to live, set
// short, lengthened to the spare's end), and purged once the spare has
// ended.
func TestCampaignSpareOutlivesRetention(t *testing.T) {
	ctx := context.Background()
	rs := harness.StartRedis(t)
	rd, err := limits.OpenRedis(ctx, rs.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	sq, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	pg, err := limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	now := time.Now().Truncate(time.Millisecond)
	copies := func(t *testing.T, cs limits.CampaignStore, at time.Time) string {
		var id string
		for i := range 5 {
			res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("petition", false), Account: fmt.Sprint("signer", i), Time: at, Bands: 5}, 15*time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			id = max(id, res.ID)
		}
		if id == "" {
			t.Fatal("no campaign")
		}
		return id
	}
	until := now.Add(limits.CampaignRetention)
	for name, st := range map[string]*limits.SQLStore{"sqlite": sq, "postgres": pg} {
		t.Run(name, func(t *testing.T) {
			id := copies(t, st, now.Add(-6*24*time.Hour))
			if ok, err := st.SpareCampaign(ctx, id, now, until, "abuse-desk"); !ok || err != nil {
				t.Fatalf("SpareCampaign: %v %v", ok, err)
			}
			if err := st.Purge(ctx, now.Add(2*24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if c, err := st.CampaignSpared(ctx, id, "signer0", now.Add(2*24*time.Hour)); !c || err != nil {
				t.Fatalf("purged while spared: %v %v", c, err)
			}
			if err := st.Purge(ctx, until.Add(time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if c, err := st.CampaignByID(ctx, id); c != nil || err != nil {
				t.Fatalf("kept after its spare ended: %+v %v", c, err)
			}
		})
	}
	t.Run("redis", func(t *testing.T) {
		id := copies(t, rd, now)
		raw := redis.NewClient(&redis.Options{Addr: rs.Addr})
		defer raw.Close()
		keys := []string{"og:{camp}:camp:" + id, "og:{camp}:campac:" + id}
		for _, key := range keys {
			if err := raw.PExpire(ctx, key, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := rd.SpareCampaign(ctx, id, now, until, "abuse-desk"); !ok || err != nil {
			t.Fatalf("SpareCampaign: %v %v", ok, err)
		}
		for _, key := range keys {
			ttl, err := raw.PTTL(ctx, key).Result()
			if err != nil || time.Now().Add(ttl).Before(until.Add(-time.Minute)) {
				t.Fatalf("%s lives %v (%v), want until the spare ends, %v", key, ttl, err, until.Sub(now))
			}
		}
		if c, err := rd.CampaignSpared(ctx, id, "signer0", now); !c || err != nil {
			t.Fatalf("not spared: %v %v", c, err)
		}
	})
}
