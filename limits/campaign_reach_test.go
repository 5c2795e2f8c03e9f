package limits_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// On every store, a campaign needs accounts that reach recipients of
// their own (a maximum matching of accounts, or groups, to recipients):
// copies to one recipient (a petition) never make one, however many
// accounts send them; copies that also go to one shared address do; an
// organisation's accounts (Group) count once; three accounts reaching
// two recipients between them count two. Before: every distinct account
// counted.
func TestCampaignReach(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now()
			send := func(text, account, group string, rcpts ...string) limits.CampaignResult {
				t.Helper()
				now = now.Add(time.Second)
				res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Group: group, Rcpts: rcpts, Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			for i := range 12 {
				if res := send("petition", fmt.Sprint("p", i), "", "mp", "paper"); res.ID != "" {
					t.Fatalf("petition copy %d: %+v", i, res)
				}
			}
			for i := range 6 {
				res := send("spread", fmt.Sprint("s", i), "", "shared", fmt.Sprint("victim", i))
				if (i == 4) != res.New || (i > 4) != res.Known {
					t.Fatalf("spread copy %d (a shared recipient and its own): %+v", i, res)
				}
			}
			for i := range 8 {
				if res := send("auto", fmt.Sprint("staff", i, "@firma.example"), "@firma.example", fmt.Sprint("corr", i)); res.ID != "" {
					t.Fatalf("auto-reply of one organisation, copy %d: %+v", i, res)
				}
			}
			// the organisation counts once beside other senders
			for i := range 4 {
				res := send("auto", fmt.Sprint("o", i), "", fmt.Sprint("other", i))
				if (i == 3) != res.New {
					t.Fatalf("with the organisation, other sender %d: %+v", i, res)
				}
			}
			// a0 {r1 r2}, a1 {r1}, a2 {r2}: two between them; with a3,
			// a4 four; a5 makes five.
			for i, rs := range [][]string{{"r1", "r2"}, {"r1"}, {"r2"}, {"r3"}, {"r4"}, {"r5"}} {
				res := send("match", fmt.Sprint("a", i), "", rs...)
				if (i == 5) != res.New || res.Known {
					t.Fatalf("matching, copy %d: %+v", i, res)
				}
			}
		})
	}
}

// On every store, the senders of a campaign that suspends stay pending
// (CampaignResult.Pending, on every later copy, any key) until
// CampaignSuspended clears them; one that does not suspend leaves none.
func TestCampaignPending(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now()
			var last limits.CampaignResult
			for i := range 5 {
				var err error
				last, err = cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("nosusp", false), Account: fmt.Sprint("n", i), Rcpts: []string{fmt.Sprint(i)}, Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil {
					t.Fatal(err)
				}
			}
			if !last.New || len(last.Pending) != 0 {
				t.Fatalf("without suspend: %+v", last)
			}
			for i := range 5 {
				var err error
				last, err = cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("susp", false), Account: fmt.Sprint("x", i), Rcpts: []string{fmt.Sprint(i)}, Time: now, Bands: 5, Suspend: true}, 15*time.Minute, 5)
				if err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, p := range last.Pending {
				if p.ID != last.ID {
					t.Fatalf("pending %+v of another campaign than %s", p, last.ID)
				}
				got = append(got, p.Account)
			}
			slices.Sort(got)
			if !last.New || !slices.Equal(got, []string{"x0", "x1", "x2", "x3", "x4"}) {
				t.Fatalf("established: %+v", last)
			}
			// An unrelated copy still carries them.
			other, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("unrelated", false), Account: "u", Rcpts: []string{"u"}, Time: now, Bands: 5, Suspend: true}, 15*time.Minute, 5)
			if err != nil || len(other.Pending) != 5 {
				t.Fatalf("an unrelated copy: %+v %v", other, err)
			}
			if err := cs.CampaignSuspended(ctx, last.Pending[:3]); err != nil {
				t.Fatal(err)
			}
			other, err = cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("unrelated", false), Account: "u", Rcpts: []string{"u"}, Time: now, Bands: 5, Suspend: true}, 15*time.Minute, 5)
			if err != nil || len(other.Pending) != 2 {
				t.Fatalf("after 3 cleared: %+v %v", other, err)
			}
		})
	}
}

// On a Redis Cluster (one node serving every slot), campaigns count: the
// script's keys are declared and in one slot, and a copy whose keys link
// to a campaign named by a key it does not have finds it (the script
// names it, the second call declares it). Before: CROSSSLOT, every copy
// failed.
func TestCampaignRedisCluster(t *testing.T) {
	ctx := context.Background()
	st, err := limits.OpenRedis(ctx, harness.StartRedisCluster(t).Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var res limits.CampaignResult
	for i := range 6 {
		if res, err = st.CampaignCopy(ctx, limits.CampaignCopy{Keys: append(campaignKeys("cluster", true), "t1other"), Account: fmt.Sprint("k", i), Rcpts: []string{fmt.Sprint(i)},
			Time: time.Now(), Bands: 5, Suspend: true}, 15*time.Minute, 5); err != nil {
			t.Fatal(err)
		}
		if (i == 4) != res.New || (i == 5) != res.Known {
			t.Fatalf("copy %d: %+v", i, res)
		}
	}
	// A copy sharing 15 bands, none of them the one the campaign is
	// named by: the script asks for the campaign's keys, and the second
	// call finds it Known.
	keys := campaignKeys("cluster", false)
	if slices.Contains(keys[5:], res.ID) {
		t.Fatalf("campaign named %s", res.ID)
	}
	res, err = st.CampaignCopy(ctx, limits.CampaignCopy{Keys: append(keys[5:], campaignKeys("varied", false)[:5]...), Account: "k6", Rcpts: []string{"6"},
		Time: time.Now(), Bands: 5, Suspend: true}, 15*time.Minute, 5)
	if err != nil || !res.Known {
		t.Fatalf("a varied copy: %+v %v", res, err)
	}
	if err := st.CampaignSuspended(ctx, res.Pending); err != nil {
		t.Fatal(err)
	}
	c, err := st.CampaignByID(ctx, res.ID)
	if err != nil || c == nil || len(c.Accounts) != 7 {
		t.Fatalf("campaign %+v %v", c, err)
	}
	for _, a := range []string{"k0", "k5"} {
		if list, err := st.AccountCampaigns(ctx, a, 10); err != nil || len(list) != 1 || list[0].ID != res.ID {
			t.Fatalf("campaigns of %s: %+v %v", a, list, err)
		}
	}
}
