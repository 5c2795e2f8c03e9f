package limits_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"outguard/limits"
)

// An established campaign absorbs no innocent text (issue 28, "never
// suspend an innocent one"): every key of a copy joins the campaign, so
// bots appending a shop's real holiday notice to their copies linked
// the notice's keys to the phish run, and the shop's owner sending the
// notice alone was held and suspended as a campaign sender. A key that
// joined only counts once as many distinct accounts sent it as would
// establish a campaign (campaign.accounts, this copy's sender included):
// fewer appending bots make no copy of the notice Known; as many are a
// campaign of that text by the rule that establishes one. The accounts
// of one organisation (CampaignCopy.Group) count as one sender, as they
// do there. On every store.
func TestCampaignPoisonInnocentText(t *testing.T) {
	for name, st := range stores(t) {
		// each copy alone (CampaignCopy), or counted with its message
		// (CommitMessage: Redis' admit script, PostgreSQL's og_admit),
		// a day apart
		for day, path := range []string{"copy", "commit"} {
			t.Run(name+"/"+path, func(t *testing.T) {
				poisonDay(t, st, path == "commit", time.Now().Add(time.Duration(day-2)*limits.Day))
			})
		}
	}
}

func poisonDay(t *testing.T, st limits.Store, commit bool, now time.Time) {
	ctx := context.Background()
	cs := st.(limits.CampaignStore)
	q := 0
	sendAs := func(account, group string, keys ...[]string) limits.CampaignResult {
		t.Helper()
		now = now.Add(20 * time.Second)
		c := limits.CampaignCopy{Keys: slices.Concat(keys...), Account: account, Group: group, Time: now, Bands: 5, Suspend: true}
		var res limits.CampaignResult
		var err error
		if commit {
			q++
			cc := &limits.CampaignCount{Copy: c, Window: 15 * time.Minute, Threshold: 5}
			var ok bool
			ok, res, err = commitCount(ctx, st, cc, fmt.Sprint("P", q))
			if err == nil && (!ok || !cc.Done) {
				t.Fatalf("%s's message: admitted %v, counted with it %v", account, ok, cc.Done)
			}
		} else {
			res, err = cs.CampaignCopy(ctx, c, 15*time.Minute, 5)
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	send := func(account string, keys ...[]string) limits.CampaignResult {
		t.Helper()
		return sendAs(account, "", keys...)
	}
	phish := campaignKeys("phish", false)
	var id string
	for i := range 5 {
		res := send(fmt.Sprint("bot", i), phish)
		if (i == 4) != res.New {
			t.Fatalf("phish copy %d: %+v", i, res)
		}
		id = res.ID
	}
	// bots appending a notice: 2 (and the owner 3 senders of it),
	// 3 (4); their copies are held as the phish run's.
	bot := 5
	for _, n := range []int{2, 3} {
		notice := campaignKeys(fmt.Sprint("notice", n), false)
		for range n {
			if res := send(fmt.Sprint("bot", bot), phish, notice); !res.Known || res.ID != id {
				t.Fatalf("bot%d's copy with notice %d appended: %+v", bot, n, res)
			}
			bot++
		}
		owner := fmt.Sprint("owner", n)
		res := send(owner, notice)
		if res.ID != "" {
			t.Fatalf("the owner of notice %d, appended by %d bots: %+v", n, n, res)
		}
		for _, p := range res.Pending {
			if p.Account == owner {
				t.Fatalf("owner of notice %d pending suspension: %+v", n, res.Pending)
			}
		}
		c, err := cs.CampaignByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Accounts {
			if a.Account == owner {
				t.Fatalf("owner of notice %d is a sender of the campaign: %+v", n, c.Accounts)
			}
		}
	}
	// An organisation's auto-reply its 8 staff sent (one sender, no
	// campaign) appended by 2 bots: the next staff member's is not held.
	auto := campaignKeys("auto", false)
	for i := range 8 {
		if res := sendAs(fmt.Sprint("staff", i, "@firma.example"), "@firma.example", auto); res.ID != "" {
			t.Fatalf("staff %d's auto-reply: %+v", i, res)
		}
	}
	for range 2 {
		send(fmt.Sprint("bot", bot), phish, auto)
		bot++
	}
	if res := sendAs("staff8@firma.example", "@firma.example", auto); res.ID != "" {
		t.Fatalf("the organisation's auto-reply after 2 bots appended it: %+v", res)
	}
	// the run itself is still found, by a copy of any bot
	if res := send("bot99", phish); !res.Known || res.ID != id {
		t.Fatalf("a later phish copy: %+v", res)
	}
	// the bound: 4 bots and the owner are the 5 accounts that
	// establish a campaign of the notice by themselves.
	notice := campaignKeys("notice4", false)
	for range 4 {
		send(fmt.Sprint("bot", bot), phish, notice)
		bot++
	}
	if res := send("owner4", notice); res.ID == "" {
		t.Fatalf("the notice sent by 5 accounts is no campaign: %+v", res)
	}
}
