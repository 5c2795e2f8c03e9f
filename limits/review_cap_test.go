package limits_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/limits"
)

// On every store (issue 28, review): a campaign established by a run of
// 5 accounts, then flooded past the bound by 3x as many senders of its
// text to one shared address (a petition's shape, which would push the
// run's accounts out of every key), keeps its evidence: the 5 are among
// its accounts (CampaignByID) and still pending suspension, and the
// flood's copies are held as the campaign's (Known), not a second
// campaign; the keys keep the bound's senders, the run's trimmed.
func TestReviewCapEvidenceAfterTrim(t *testing.T) {
	ctx := context.Background()
	for name, st := range capStores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			var id string
			var run []string
			for i := range 5 {
				a := fmt.Sprint("run", i)
				run = append(run, a)
				now = now.Add(time.Second)
				res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("phish", false), Account: a, Rcpts: []string{"victim" + a}, Time: now, Bands: 5, Suspend: true}, 15*time.Minute, 5)
				if err != nil || res.New != (i == 4) {
					t.Fatalf("run copy %d: %+v %v", i, res, err)
				}
				id = res.ID
			}
			for i := range 3 * capTestSenders {
				now = now.Add(time.Millisecond)
				res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("phish", false), Account: fmt.Sprint("flood", i), Rcpts: []string{"decoy"}, Time: now, Bands: 5}, 15*time.Minute, 5)
				if err != nil || !res.Known || res.ID != id {
					t.Fatalf("flood copy %d: %+v %v", i, res, err)
				}
			}
			keySenders(t, st, "phish", capTestSenders)
			for _, k := range campaignKeys("phish", false) {
				kept, err := limits.CampaignKeySendersOf(ctx, st, k)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range run {
					if slices.Contains(kept, a) {
						t.Fatalf("key %s still keeps %s", k, a)
					}
				}
			}
			c, err := cs.CampaignByID(ctx, id)
			if err != nil || c == nil {
				t.Fatalf("campaign %s: %v", id, err)
			}
			var accts []string
			for _, a := range c.Accounts {
				accts = append(accts, a.Account)
			}
			for _, a := range run {
				if !slices.Contains(accts, a) {
					t.Fatalf("campaign's accounts %v lack %s", accts, a)
				}
			}
			if len(accts) != 5+3*capTestSenders || c.Held != 3*capTestSenders {
				t.Fatalf("campaign %d accounts, %d held", len(accts), c.Held)
			}
			now = now.Add(time.Millisecond)
			res, err := cs.CampaignCopy(ctx, limits.CampaignCopy{Keys: campaignKeys("other", false), Account: "x", Rcpts: []string{"y"}, Time: now, Bands: 5}, 15*time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			var pend []string
			for _, p := range res.Pending {
				if p.ID == id {
					pend = append(pend, p.Account)
				}
			}
			slices.Sort(pend)
			if !slices.Equal(pend, run) {
				t.Fatalf("pending %v, want %v", pend, run)
			}
		})
	}
}

// On every store (issue 28, review): writers at once at the bound, their
// clocks apart (each copy's time up to 2 s off: hosts whose clocks
// disagree), 4 at a time through CommitMessage: every key keeps exactly
// the bound's senders, the most recent of all copies by (time, account),
// the same set on the three stores, whatever the order they ran in.
func TestReviewCapConcurrentSkew(t *testing.T) {
	ctx := context.Background()
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	const writers, each = 4, 15
	type cp struct {
		acct string
		at   time.Time
	}
	var copies [writers][]cp
	var all []cp
	for w := range writers {
		for i := range each {
			// a deterministic spread: writer w's clock (w*700 ms) and
			// copies landing on equal milliseconds across writers
			c := cp{fmt.Sprintf("w%d-%02d", w, i), base.Add(time.Duration(w*700+(i*311)%2000) * time.Millisecond)}
			copies[w] = append(copies[w], c)
			all = append(all, c)
		}
	}
	slices.SortFunc(all, func(a, b cp) int {
		if d := b.at.Compare(a.at); d != 0 {
			return d
		}
		return strings.Compare(b.acct, a.acct)
	})
	var want []string
	for _, c := range all[:capTestSenders] {
		want = append(want, c.acct)
	}
	slices.Sort(want)
	for name, st := range capStores(t) {
		t.Run(name, func(t *testing.T) {
			errs := make(chan error, writers)
			for w := range writers {
				go func() {
					for _, c := range copies[w] {
						if _, err := commitTo(ctx, st, c.acct, "skewed", "rminister", c.at); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range writers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			for _, k := range campaignKeys("skewed", false) {
				kept, err := limits.CampaignKeySendersOf(ctx, st, k)
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(kept)
				if !slices.Equal(kept, want) {
					t.Fatalf("key %s keeps %v, want %v", k, kept, want)
				}
			}
		})
	}
}

// On every store (issue 28, review): the petition's rule in variations.
// Runs over stolen accounts, each to a victim of its own, are found at
// the fifth account: a decoy on all copies but the second's, a decoy of
// each account's own, a victim and two decoys shared by all. Petitions
// are none: every signer to two representatives; to the representative
// and a newspaper (every other signer); the letter first alone to the
// signer's own address (a recipient of the copy's like any other at this
// level: its own) by two of eight, then to the representative.
func TestReviewPetitionVariations(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			runs := map[string]func(i int) []string{
				"most": func(i int) []string {
					return append([]string{fmt.Sprint("v", i)}, map[bool][]string{true: {"decoy"}}[i != 1]...)
				},
				"own":     func(i int) []string { return []string{fmt.Sprint("v", i), fmt.Sprint("decoy", i)} },
				"twodecs": func(i int) []string { return []string{fmt.Sprint("v", i), "decoy1", "decoy2"} },
			}
			for text, rcpts := range runs {
				for i := range 5 {
					if res := copyTo(t, cs, &now, text, fmt.Sprint(text, i), rcpts(i)...); res.New != (i == 4) {
						t.Fatalf("run %s copy %d: %+v", text, i, res)
					}
				}
			}
			for i := range 12 {
				if res := copyTo(t, cs, &now, "tworeps", fmt.Sprint("s", i), "rep1", "rep2"); res.ID != "" {
					t.Fatalf("two representatives, signer %d: %+v", i, res)
				}
				rc := []string{"rep"}
				if i%2 == 0 {
					rc = append(rc, "paper")
				}
				if res := copyTo(t, cs, &now, "paper", fmt.Sprint("p", i), rc...); res.ID != "" {
					t.Fatalf("representative and paper, signer %d: %+v", i, res)
				}
			}
			for i := range 8 {
				a := fmt.Sprint("f", i)
				if i%4 == 1 {
					if res := copyTo(t, cs, &now, "first", a, "self"+a); res.ID != "" {
						t.Fatalf("own address first, signer %d: %+v", i, res)
					}
				}
				if res := copyTo(t, cs, &now, "first", a, "rep"); res.ID != "" {
					t.Fatalf("own address first, signer %d: %+v", i, res)
				}
			}
		})
	}
}
