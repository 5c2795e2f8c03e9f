package limits_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// copyAt counts a copy of text from account to rcpts at time at on cs
// (the example config's window and threshold, as copyTo), with the
// recipients recorded after it.
func copyAt(t *testing.T, cs limits.CampaignStore, at time.Time, text, account string, rcpts ...string) (limits.CampaignResult, []string) {
	t.Helper()
	res, err := cs.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Rcpts: rcpts, Time: at, Bands: 5}, 15*time.Minute, 5)
	if err != nil {
		t.Fatal(err)
	}
	return res, recorded(t, cs, text, account)
}

// recorded are the recipients cs keeps of account with text's first key.
func recorded(t *testing.T, cs limits.CampaignStore, text, account string) []string {
	t.Helper()
	var st limits.Store = cs.(limits.Store)
	if o, ok := cs.(v19); ok {
		st = o.Redis
	}
	got, err := limits.RecordedRcpts(context.Background(), st, campaignKeys(text, false)[0], account)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// On every store (issue 28, schema 20) an account's list of a key merges
// the copies of one window from its first, and starts again with the
// copy's own recipients once it began more than a window (15m) before:
// at exactly the window it still merges, a millisecond later it starts
// again, and the copy after merges into the new list. An account that
// sends every 12 minutes (never a window without a copy, review r1's
// priming) starts again at its third copy. A petition signer who sends
// the committee and a friend, then 20 minutes later the committee again,
// keeps the committee alone; 20 such signers are no campaign.
func TestCampaignT0Restart(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			r := rand.New(rand.NewPCG(20, 1))
			r1, r2, r3, r4 := tokens(r, 10), tokens(r, 10), tokens(r, 10), tokens(r, 10)
			base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
			steps := []struct {
				at   time.Duration
				add  []string
				want []string
			}{
				{0, r1, lowest(r1)},
				{15 * time.Minute, r2, lowest(append(slices.Clone(r1), r2...))},
				{15*time.Minute + time.Millisecond, r3, lowest(r3)},
				{15*time.Minute + 2*time.Millisecond, r4, lowest(append(slices.Clone(r3), r4...))},
				{30*time.Minute + time.Millisecond, r1, lowest(append(append(slices.Clone(r3), r4...), r1...))},
				{30*time.Minute + 2*time.Millisecond, r2, lowest(r2)},
			}
			for i, s := range steps {
				if _, got := copyAt(t, cs, base.Add(s.at), "bound", "a", s.add...); !slices.Equal(got, s.want) {
					t.Fatalf("copy %d at +%v: recorded %v, want %v", i, s.at, got, s.want)
				}
			}
			for i, want := range [][]string{lowest(r1), lowest(append(slices.Clone(r1), r2...)), lowest(r3), lowest(append(slices.Clone(r3), r4...)), lowest(r1)} {
				if _, got := copyAt(t, cs, base.Add(time.Duration(i)*12*time.Minute), "every12", "p", [][]string{r1, r2, r3, r4, r1}[i]...); !slices.Equal(got, want) {
					t.Fatalf("copy %d every 12 minutes: recorded %v, want %v", i, got, want)
				}
			}
			for i := range 20 {
				acct := fmt.Sprint("signer", i)
				at := base.Add(time.Duration(i) * 10 * time.Second)
				if res, _ := copyAt(t, cs, at, "petition", acct, append(slices.Clone(committee), fmt.Sprint("friend", i))...); res.ID != "" {
					t.Fatalf("signer %d's first message: %+v", i, res)
				}
				res, got := copyAt(t, cs, at.Add(20*time.Minute), "petition", acct, committee...)
				if res.ID != "" {
					t.Fatalf("signer %d's second message 20 minutes later: %+v", i, res)
				}
				if !slices.Equal(got, lowest(committee)) {
					t.Fatalf("signer %d's second message: recorded %v, want the committee alone", i, got)
				}
			}
		})
	}
}

// The three stores agree across window boundaries (issue 28, schema 20):
// 30 texts, each sent by 8 accounts 3 to 5 times at random over 50
// minutes (lists that merge, lists that start again, rows older than the
// window): half a petition to a committee (a member left out one copy in
// ten), half to 2-4 of a pool of 30 shared addresses and, as the text
// goes, 0 to 2 of their own. Every copy's result and the account's
// recorded recipients are the same on SQLite, Redis and PostgreSQL, and
// some texts become campaigns and some do not.
func TestCampaignT0Agree(t *testing.T) {
	sts := stores(t)
	r := rand.New(rand.NewPCG(28, 20))
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	found, restarts := 0, 0
	for text := range 30 {
		pool := tokens(r, 30)
		type cp struct {
			at   time.Duration
			acct string
		}
		var cps []cp
		for a := range 8 {
			for range 3 + r.IntN(3) {
				cps = append(cps, cp{time.Duration(r.IntN(50*60)) * time.Second, fmt.Sprintf("t%d-a%d", text, a)})
			}
		}
		slices.SortFunc(cps, func(x, y cp) int { return int(x.at - y.at) })
		established := false
		last := map[string]int{}
		for _, c := range cps {
			rcpts := slices.Clone(committee)
			if text%2 == 1 {
				rcpts = nil
				for range 2 + r.IntN(3) {
					rcpts = append(rcpts, pool[r.IntN(len(pool))])
				}
				rcpts = append(rcpts, tokens(r, r.IntN(1+text%3))...)
			} else if r.IntN(10) == 0 {
				rcpts = rcpts[1:]
			}
			res := agreeOnStores(t, sts, limits.CampaignCopy{Keys: campaignKeys(fmt.Sprint("t0agree", text), false),
				Account: c.acct, Rcpts: lowest(rcpts), Time: base.Add(time.Duration(text)*time.Hour + c.at), Bands: 5})
			established = established || res.ID != ""
			var lists [][]string
			for _, name := range storeNames {
				lists = append(lists, recorded(t, sts[name].(limits.CampaignStore), fmt.Sprint("t0agree", text), c.acct))
			}
			for j := range lists {
				if !slices.Equal(lists[0], lists[j]) {
					t.Fatalf("text %d, %s at +%v: %s records %v, %s %v", text, c.acct, c.at, storeNames[0], lists[0], storeNames[j], lists[j])
				}
			}
			if n, ok := last[c.acct]; ok && len(lists[0]) < n {
				restarts++
			}
			last[c.acct] = len(lists[0])
		}
		if established {
			found++
		}
	}
	if found == 0 || found == 30 || restarts == 0 {
		t.Fatalf("%d of 30 texts campaigns, %d lists seen to start again: the draw tries one way only", found, restarts)
	}
	t.Logf("%d of 30 texts campaigns, %d lists seen to start again", found, restarts)
}

// Schema 20 on a store of version 19 (issue 28), on SQLite and
// PostgreSQL. A list recorded before the upgrade has no t0 (0): the next
// copy, a second later, starts it again (the copy's recipients alone, not
// merged). On PostgreSQL a milterd of 19 is counting on the store of 19
// (its lists merge); once the store is of 20 the same milterd, still
// running, calls og_campaign of 20: its next copy starts its list again,
// the one after merges into it, and review r1's priming over many windows
// alternating between the host of 19 and the new one is found.
func TestCampaignT0Migration(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 2))
	r1, r2, r3 := tokens(r, 10), tokens(r, 10), tokens(r, 10)
	upgradeFrom(t, 19, "", func(t *testing.T, cs limits.CampaignStore, now *time.Time) {
		copyTo(t, cs, now, "before", "b", r1...)
	}, func(t *testing.T, old limits.CampaignStore, now *time.Time) {
		copyTo(t, old, now, "old", "o", r1...)
		copyTo(t, old, now, "old", "o", r2...)
		if got, want := recorded(t, old, "old", "o"), lowest(append(slices.Clone(r1), r2...)); !slices.Equal(got, want) {
			t.Fatalf("version 19's copies: recorded %v, want %v", got, want)
		}
	}, func(t *testing.T, st, old limits.CampaignStore, now *time.Time) {
		copyTo(t, st, now, "before", "b", r2...)
		if got := recorded(t, st, "before", "b"); !slices.Equal(got, lowest(r2)) {
			t.Fatalf("a list of 19, its next copy: recorded %v, want the copy's alone %v", got, lowest(r2))
		}
		copyTo(t, st, now, "before", "b", r3...)
		if got, want := recorded(t, st, "before", "b"), lowest(append(slices.Clone(r2), r3...)); !slices.Equal(got, want) {
			t.Fatalf("the copy after: recorded %v, want %v", got, want)
		}
		hosts := []limits.CampaignStore{st}
		if old != nil {
			hosts = append(hosts, old)
			copyTo(t, old, now, "old", "o", r3...)
			if got := recorded(t, old, "old", "o"); !slices.Equal(got, lowest(r3)) {
				t.Fatalf("the host of 19 after the upgrade: recorded %v, want its copy's alone %v", got, lowest(r3))
			}
			copyTo(t, old, now, "old", "o", r1...)
			if got, want := recorded(t, old, "old", "o"), lowest(append(slices.Clone(r3), r1...)); !slices.Equal(got, want) {
				t.Fatalf("the host of 19's copy after: recorded %v, want %v", got, want)
			}
		}
		found := primeAcross(t, hosts, "across", now, rand.New(rand.NewPCG(28, 1)))
		if found < 0 {
			t.Fatalf("primed across windows over %d hosts after the upgrade: never found", len(hosts))
		}
		t.Logf("primed across windows over %d hosts after the upgrade: found at account %d", len(hosts), found)
	})
}

// primeAcross is review r1's run (TestReviewPrimedAcrossWindows) of text
// over hosts, from *now less 5 hours: 12 accounts sending every 12 minutes
// for 4 hours to 100 shared addresses a round, then 50 victims each, each
// account's copies alternating between the hosts. It returns the account
// at which the run was found (-1: never); found while priming fails t.
func primeAcross(t *testing.T, hosts []limits.CampaignStore, text string, now *time.Time, r *rand.Rand) int {
	t.Helper()
	const accounts, steps = 12, 20
	at := now.Add(-5 * time.Hour)
	for s := range steps {
		chunk := lowest(tokens(r, 100))
		for i := range accounts {
			if res := copyTo(t, hosts[(s+i)%len(hosts)], &at, text, fmt.Sprint("w", i), chunk...); res.ID != "" {
				t.Fatalf("priming alone a campaign at step %d", s)
			}
		}
		at = at.Add(12*time.Minute - accounts*time.Second)
	}
	for i := range accounts {
		if res := copyTo(t, hosts[(steps+i)%len(hosts)], &at, text, fmt.Sprint("w", i), lowest(tokens(r, 50))...); res.ID != "" {
			return i
		}
	}
	return -1
}

// A fleet upgraded one host at a time on Redis (issue 28, schema 20),
// where each host runs its own script on the same keys. A host of 19
// leaves t0 as it was: its copies merge into the list whenever it was
// begun (as 19 did), and a list it begins has no t0, which a host of 20
// starts again at its next copy. Review r1's priming alternating between
// a host of 19 and one of 20 is found: each copy of the host of 20 starts
// a list begun more than a window before. On hosts of 19 alone it hides
// as before.
func TestCampaignT0RollingRedis(t *testing.T) {
	ctx := context.Background()
	st, err := limits.OpenRedis(ctx, harness.StartRedis(t).Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var cs limits.CampaignStore = st
	old := v19{st}
	r := rand.New(rand.NewPCG(20, 3))
	r1, r2, r3, r4 := tokens(r, 10), tokens(r, 10), tokens(r, 10), tokens(r, 10)
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	for i, s := range []struct {
		host limits.CampaignStore
		at   time.Duration
		add  []string
		want []string
	}{
		{old, 0, r1, lowest(r1)},
		{cs, time.Minute, r2, lowest(r2)},
		{old, 13 * time.Minute, r3, lowest(append(slices.Clone(r2), r3...))},
		{old, 26 * time.Minute, r4, lowest(append(append(slices.Clone(r2), r3...), r4...))},
		{cs, 27 * time.Minute, r1, lowest(r1)},
	} {
		if _, got := copyAt(t, s.host, base.Add(s.at), "rolling", "a", s.add...); !slices.Equal(got, s.want) {
			t.Fatalf("copy %d at +%v (%T): recorded %v, want %v", i, s.at, s.host, got, s.want)
		}
	}
	now := time.Now()
	found := primeAcross(t, []limits.CampaignStore{old, cs}, "across", &now, rand.New(rand.NewPCG(28, 1)))
	if found < 0 {
		t.Fatal("primed across windows over a host of 19 and one of 20: never found")
	}
	t.Logf("primed across windows over a host of 19 and one of 20: found at account %d", found)
	// on hosts of 19 alone the run hides as before the upgrade
	if found := primeAcross(t, []limits.CampaignStore{old}, "across19", &now, rand.New(rand.NewPCG(28, 2))); found >= 0 {
		t.Fatalf("primed across windows on hosts of 19 alone: found at account %d, want never (the rule of 19)", found)
	}
}

// v19 is a milterd of schema 19 on a Redis store (CampaignCopyV19).
type v19 struct{ *limits.Redis }

func (o v19) CampaignCopy(ctx context.Context, c limits.CampaignCopy, window time.Duration, threshold int) (limits.CampaignResult, error) {
	return limits.CampaignCopyV19(ctx, o.Redis, c, window, threshold)
}
