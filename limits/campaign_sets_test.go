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

// committee are the five members a committee petition is sent to.
var committee = []string{"member1", "member2", "member3", "member4", "member5"}

// On every store (issue 28, schema 17), a petition to a committee is no
// campaign: 20 signers each sending the letter to the same five members
// and nobody else; 30 signers each writing to all 50 councillors of a
// city council (the 16 recorded of each copy, chosen in the fleet's
// seed-keyed order, are then the same 16: campaign.rcptHashes); 20 to
// the committee of whom the first 3 (the worst place) also Cc a friend of
// their own; 20 who each also Cc their own login (one fleet-wide
// recipient, "self" here: campaign.selfRcpt). Before: each was a
// campaign at the fifth copy (the fourth friend-less signer's with the
// friends) and every signer suspended: the signers were matched to the
// committee's five members (and the friends).
func TestCampaignPetitionCommittee(t *testing.T) {
	var council []string
	for i := range limits.MaxRcpts {
		council = append(council, fmt.Sprint("councillor", i))
	}
	cases := []struct {
		name    string
		signers int
		rcpts   func(i int) []string
	}{
		{"committee", 20, func(int) []string { return committee }},
		{"council", 30, func(int) []string { return council }},
		{"friends", 20, func(i int) []string {
			if i < 3 {
				return append(slices.Clone(committee), fmt.Sprint("friend", i))
			}
			return committee
		}},
		{"own login", 20, func(int) []string { return append(slices.Clone(committee), "self") }},
	}
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			for _, c := range cases {
				for i := range c.signers {
					if res := copyTo(t, cs, &now, c.name, fmt.Sprint(c.name, i), c.rcpts(i)...); res.ID != "" {
						t.Fatalf("%s, signer %d: %+v", c.name, i, res)
					}
				}
			}
		})
	}
}

// spearRcpts are the recipients of copy i of a spear-phishing run over
// one company's 20 staff: a random 8 of them, drawn with seed.
func spearRcpts(seed uint64, i int) []string {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	var rs []string
	for _, j := range r.Perm(20)[:8] {
		rs = append(rs, fmt.Sprint("staff", j))
	}
	return rs
}

// On every store (issue 28, schema 17), what passes the committee's
// petition lets no run through: a spear-phishing run over one company's
// 20 staff from 20 stolen accounts, each copy to a random 8 of the 20
// (every victim reached by several accounts, no two copies to the same
// 8), is established by the fifth account and every later copy is Known,
// for 5 draws. Schema 16's reachNeed counted only the accounts reaching
// a recipient nobody else reaches: such a run needed 6 to 9 accounts in
// 14% of draws (TestReachSpearDraws).
func TestCampaignSpearPhishing(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := st.(limits.CampaignStore)
			now := time.Now().Add(-10 * time.Minute)
			for seed := range uint64(5) {
				text := fmt.Sprint("spear", seed)
				for i := range 20 {
					res := copyTo(t, cs, &now, text, fmt.Sprint(text, "-stolen", i), spearRcpts(seed, i)...)
					if res.New != (i == 4) || res.Known != (i > 4) {
						t.Fatalf("draw %d, copy %d: %+v", seed, i, res)
					}
				}
			}
		})
	}
}

// reach's rule (schema 17) over 2 000 draws of the spear-phishing run
// (TestCampaignSpearPhishing's): found at the fifth account in every
// one. Under schema 16's rule (and under the matching of recipient sets
// with schema 16's count of accounts reaching a recipient nobody else
// reaches) 85.8% of 10 000 draws were found at the fifth, the others at
// the sixth to ninth (a simulation of that rule, issue 28's report).
func TestReachSpearDraws(t *testing.T) {
	for seed := range uint64(2000) {
		var copies [][]string
		for i := range 5 {
			copies = append(copies, spearRcpts(1000+seed, i))
			if got := limits.Reach(copies, 5); got != (i == 4) {
				t.Fatalf("draw %d, %d accounts: campaign %v", seed, i+1, got)
			}
		}
	}
}

// Schema 17 on a store of version 16 (issue 28), on SQLite and
// PostgreSQL: the keys a committee's petition recorded before are read
// the same, and its next copies are no campaign. On PostgreSQL the store
// is first given back og_campaign of version 16, under which a second
// committee's fifth signer is a campaign (the test would see a migration
// that left it); after the upgrade the first committee's twentieth
// signer is none. SQLite's version is 17 too (its reach is Go's).
func TestCampaignSetsMigration(t *testing.T) {
	upgradeFrom(t, 16, limits.OgCampaignVersion16, func(t *testing.T, cs limits.CampaignStore, now *time.Time) {
		for i := range 10 {
			if res := copyTo(t, cs, now, "before", fmt.Sprint("b", i), committee...); res.ID != "" {
				t.Fatalf("signer %d: %+v", i, res)
			}
		}
	}, func(t *testing.T, old limits.CampaignStore, now *time.Time) {
		// version 16's og_campaign, called as a milterd of version 16
		// calls it (the same arguments): the committee's fifth signer
		// is a campaign
		for i := range 5 {
			if res := copyTo(t, old, now, "old", fmt.Sprint("o", i), committee...); res.New != (i == 4) {
				t.Fatalf("version 16, signer %d: %+v", i, res)
			}
		}
	}, func(t *testing.T, st, _ limits.CampaignStore, now *time.Time) {
		for i := 10; i < 20; i++ {
			if res := copyTo(t, st, now, "before", fmt.Sprint("b", i), committee...); res.ID != "" {
				t.Fatalf("signer %d after the upgrade: %+v", i, res)
			}
		}
	})
}

// A fleet upgraded one host at a time on PostgreSQL (issue 28): hosts of
// schema 16 are counting a committee's petition when the first host of
// 17 opens the store and replaces og_campaign. A host of 16 that was
// running calls it with the same arguments as before (campaignArgs is
// unchanged): its copies get the rule of 17 from then on, as the new
// host's do, and the petition's 20 signers, alternating between the two,
// are no campaign; a spear-phishing run alternating between them is
// found at its fifth account. A milterd of 16 restarted on the store
// refuses to open it (the schema is newer).
func TestCampaignSetsRollingUpgrade(t *testing.T) {
	ctx := context.Background()
	pg := harness.StartPostgres(t)
	old, err := limits.OpenPostgresAt(ctx, pg.DSN, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	now := time.Now().Add(-10 * time.Minute)
	for i := range 4 {
		if res := copyTo(t, old.(limits.CampaignStore), &now, "mixed", fmt.Sprint("m", i), committee...); res.ID != "" {
			t.Fatalf("signer %d before the upgrade: %+v", i, res)
		}
	}
	st, err := limits.OpenPostgres(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hosts := []limits.CampaignStore{old.(limits.CampaignStore), st}
	for i := 4; i < 20; i++ {
		if res := copyTo(t, hosts[i%2], &now, "mixed", fmt.Sprint("m", i), committee...); res.ID != "" {
			t.Fatalf("signer %d on host %d: %+v", i, i%2, res)
		}
	}
	for i := range 6 {
		res := copyTo(t, hosts[i%2], &now, "spear", fmt.Sprint("s", i), spearRcpts(28, i)...)
		if res.New != (i == 4) || res.Known != (i == 5) {
			t.Fatalf("spear copy %d on host %d: %+v", i, i%2, res)
		}
	}
	refusesNewer(t, pg.DSN, 16)
}

// The three stores agree on the recipient sets (issue 28, schema 17):
// 30 texts, each sent by up to 12 accounts to one committee's two
// members or (1, 4, 7 or 10 copies in ten, as the text goes) to 1-3 of
// 6 shared recipients at random (sets repeated, subsets of others, a few
// accounts sending twice: their sets grow), every copy's result the
// same on SQLite (Go's reach), Redis (the script's) and PostgreSQL
// (og_campaign's); some texts become campaigns and some do not (the
// draw reaches both ways).
func TestCampaignSetsAgree(t *testing.T) {
	agreeOnTexts(t, 17, "agree", func(r *rand.Rand, text int) []string {
		if r.IntN(10) < 9-3*(text%4) {
			return []string{"shared0", "shared1"}
		}
		var rcpts []string
		for _, j := range r.Perm(6)[:1+r.IntN(3)] {
			rcpts = append(rcpts, fmt.Sprint("shared", j))
		}
		return rcpts
	})
}
