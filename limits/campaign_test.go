package limits_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"outguard/limits"
)

// campaignKeys are a text's 20 band keys and, with file, an attachment's.
func campaignKeys(text string, file bool) []string {
	var ks []string
	for b := range 20 {
		ks = append(ks, fmt.Sprintf("t1%s%02d", text, b))
	}
	if file {
		ks = append(ks, "f1"+text)
	}
	return ks
}

// sixteenSenders sends one campaign's copy from 16 accounts at once,
// account i on host i%2 of pair (send: the store's result for it), and
// checks that exactly one copy establishes the campaign (the fifth
// distinct account's, listing 5 accounts), exactly the 11 after it are
// Known and the first 4 are neither.
func sixteenSenders(t *testing.T, pair [2]limits.Store, round int, send func(st limits.Store, i int) (limits.CampaignResult, error)) {
	var mu sync.Mutex
	var news, known, none int
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			res, err := send(pair[i%2], i)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case res.New:
				news++
				if len(res.Accounts) != 5 {
					t.Errorf("established with %v", res.Accounts)
				}
			case res.Known:
				known++
			default:
				none++
			}
		})
	}
	wg.Wait()
	if news != 1 || known != 11 || none != 4 {
		t.Fatalf("round %d: %d new, %d known, %d none; want 1, 11, 4", round, news, known, none)
	}
}

// Two hosts on one store add copies of one campaign from 16 accounts at
// once, round after round: exactly one copy establishes it (the fifth
// distinct account's), exactly the 11 after it are Known, and the
// campaign lists all 16 accounts. Copies that agree on fewer bands than
// the quorum never join, however many accounts send them.
func TestCampaignTwoHostsExact(t *testing.T) {
	ctx := context.Background()
	for name, pair := range storePairs(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			for round := range 5 {
				text := fmt.Sprint("r", round, "x")
				sixteenSenders(t, pair, round, func(st limits.Store, i int) (limits.CampaignResult, error) {
					return st.(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys(text, false), Account: fmt.Sprint("acct", i), Subject: "s", Time: now, Bands: 5}, 15*time.Minute, 5)
				})
				cs := pair[0].(limits.CampaignStore)
				list, err := cs.Campaigns(ctx, now.Add(-time.Minute), 100)
				if err != nil {
					t.Fatal(err)
				}
				var c *limits.Campaign
				for _, x := range list {
					if x.ID[2:len(text)+2] == text {
						c, _ = cs.CampaignByID(ctx, x.ID)
					}
				}
				if c == nil || len(c.Accounts) != 16 || c.Copies != 16 || c.Held != 11 {
					t.Fatalf("round %d: campaign %+v", round, c)
				}
			}
			// 4 bands in common (under the quorum of 5), 10 accounts:
			// never a campaign.
			for i := range 10 {
				keys := campaignKeys(fmt.Sprint("own", i), false)
				copy(keys[:4], campaignKeys("shared", false)[:4])
				res, err := pair[i%2].(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("q", i), Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil || res.ID != "" {
					t.Fatalf("copy %d sharing 4 bands: %+v %v", i, res, err)
				}
			}
			// An attachment alone does not join (a school's letter every
			// parent passes on): the same file, other texts, 10 accounts.
			for i := range 10 {
				keys := append(campaignKeys(fmt.Sprint("txt", i), false), "f1school")
				res, err := pair[i%2].(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("s", i), Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil || res.ID != "" {
					t.Fatalf("copy %d of one attachment, other texts: %+v %v", i, res, err)
				}
			}
			// With one band of text in common it does: the 5th establishes,
			// the 6th is Known.
			var last limits.CampaignResult
			for i := range 6 {
				keys := append(campaignKeys(fmt.Sprint("mtxt", i), false), "f1malware")
				keys[0] = "t1malwaretext"
				var err error
				if last, err = pair[i%2].(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("m", i), Time: now, Bands: 5}, 15*time.Minute, 5); err != nil {
					t.Fatal(err)
				}
				if i == 4 && !last.New {
					t.Fatalf("the 5th copy of one attachment with a band of text: %+v", last)
				}
			}
			if !last.Known {
				t.Fatalf("the 6th copy of one attachment with a band of text: %+v", last)
			}
			// Outside the window, the accounts count no more.
			later := now.Add(16 * time.Minute)
			res, err := pair[0].(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("r0x", false), Account: "late", Time: later, Bands: 5}, 15*time.Minute, 5)
			if err != nil || res.ID != "" {
				t.Fatalf("a copy after the window: %+v %v", res, err)
			}
		})
	}
}

// A store that does not answer fails the copy with an error, never a
// silent "no campaign": the engine's on_error decides.
func TestCampaignStoreDown(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st.Close()
			_, err := st.(limits.CampaignStore).CampaignCopy(context.Background(), limits.CampaignCopy{Keys: campaignKeys("x", false), Account: "a", Time: time.Now(), Bands: 5}, time.Minute, 5)
			if err == nil {
				t.Fatal("a closed store counted a copy")
			}
		})
	}
}

// Purge keeps a campaign for the evidence's 7 days and forgets it after
// (SQL stores; on Redis the keys expire by their TTL, in real time, and
// Purge is a no-op, so only the keeping is checked there).
func TestCampaignPurge(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			then := time.Now().Add(-2 * limits.Day)
			var id string
			for i := range 5 {
				res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("purge", false), Account: fmt.Sprint("p", i), Time: then, Bands: 5}, 15*time.Minute, 5)
				if err != nil {
					t.Fatal(err)
				}
				id = res.ID
			}
			if err := st.Purge(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
			if c, _ := cs.CampaignByID(ctx, id); c == nil {
				t.Fatal("a 2-day-old campaign was purged (kept 7 days)")
			}
			if err := st.Purge(ctx, time.Now().Add(6*limits.Day)); err != nil {
				t.Fatal(err)
			}
			if c, _ := cs.CampaignByID(ctx, id); c != nil && name != "redis" {
				t.Fatalf("an 8-day-old campaign was kept: %+v", c)
			}
		})
	}
}
