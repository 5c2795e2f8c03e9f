package limits_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
)

// storeNames are stores' stores in the order agreeOnStores compares them.
var storeNames = []string{"sqlite", "redis", "postgres"}

// agreeOnStores counts c on each of sts (stores') with the example
// config's threshold and window, and fails t unless the three return the
// same (the accounts compared as sets); it returns that result.
func agreeOnStores(t *testing.T, sts map[string]limits.Store, c limits.CampaignCopy) limits.CampaignResult {
	t.Helper()
	var got []limits.CampaignResult
	for _, name := range storeNames {
		res, err := sts[name].(limits.CampaignStore).CampaignCopy(context.Background(), c, 15*time.Minute, 5)
		if err != nil {
			t.Fatal(name, err)
		}
		slices.Sort(res.Accounts)
		got = append(got, res)
	}
	for j := range got {
		if !reflect.DeepEqual(got[0], got[j]) {
			t.Fatalf("%s's copy (group %q, rcpts %v): %s %+v, %s %+v", c.Account, c.Group, c.Rcpts, storeNames[0], got[0], storeNames[j], got[j])
		}
	}
	return got[0]
}

// refusesNewer fails t unless a milterd of schema v restarted on the
// PostgreSQL of dsn refuses to open it (its schema is newer).
func refusesNewer(t *testing.T, dsn string, v int) {
	t.Helper()
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqldb.Postgres.Migrate(context.Background(), db, "limits", v, limits.PostgresMigrations); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("a milterd of %d opening the store of %d: %v", v, limits.SchemaVersion, err)
	}
}

// upgradeFrom is a migration test from schema version from to the
// current one, on SQLite and on PostgreSQL. before writes on a store of
// the current version, which is then set back to from (on PostgreSQL
// with oldPG: the functions of version from), as a store of that version
// was left; on PostgreSQL old, a milterd of version from, writes on it
// next (nil on SQLite, whose functions are Go's). The store is then
// opened again and must be of the current version; after gets it and,
// on PostgreSQL, the milterd of version from still running (a fleet
// upgraded one host at a time), which is then refused on a restart
// (refusesNewer). Each store's callbacks share one clock, from ten
// minutes ago. Setting a store back drops the columns of later versions
// (t0 of 20), which its migration adds again, and on PostgreSQL gives it
// og_campaign of 19 (of 17 to 19 without t0), before oldPG.
func upgradeFrom(t *testing.T, from int, oldPG string, before, old func(t *testing.T, cs limits.CampaignStore, now *time.Time), after func(t *testing.T, st, old limits.CampaignStore, now *time.Time)) {
	ctx := context.Background()
	dropT0, oldCampaign := "", ""
	if from < 20 {
		dropT0, oldCampaign = `ALTER TABLE campaign_keys DROP COLUMN t0; `, limits.OgCampaignVersion19
	}
	path := filepath.Join(t.TempDir(), "state.db")
	pg := harness.StartPostgres(t)
	for _, c := range []struct {
		name, driver, dsn, back, version string
		open                             func() (limits.Store, error)
	}{
		{"sqlite", "sqlite", "file:" + path, fmt.Sprintf(`PRAGMA user_version = %d; `, from) + dropT0, `PRAGMA user_version`, func() (limits.Store, error) { return limits.OpenSQLite(path) }},
		{"postgres", "pgx", pg.DSN, fmt.Sprintf(`UPDATE schema_version SET version = %d WHERE component = 'limits'; `, from) + dropT0 + oldCampaign + oldPG,
			`SELECT version FROM schema_version WHERE component = 'limits'`, func() (limits.Store, error) { return limits.OpenPostgres(ctx, pg.DSN) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := time.Now().Add(-10 * time.Minute)
			st, err := c.open()
			if err != nil {
				t.Fatal(err)
			}
			if before != nil {
				before(t, st.(limits.CampaignStore), &now)
			}
			st.Close()
			db, err := sql.Open(c.driver, c.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, c.back); err != nil {
				t.Fatal(err)
			}
			var host limits.CampaignStore
			if c.name == "postgres" {
				o, err := limits.OpenPostgresAt(ctx, pg.DSN, from)
				if err != nil {
					t.Fatal(err)
				}
				defer o.Close()
				host = o.(limits.CampaignStore)
				if old != nil {
					old(t, host, &now)
				}
			}
			if st, err = c.open(); err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var v int
			if err := db.QueryRowContext(ctx, c.version).Scan(&v); err != nil || v != limits.SchemaVersion {
				t.Fatalf("schema version %d (%v), want %d", v, err, limits.SchemaVersion)
			}
			after(t, st.(limits.CampaignStore), host, &now)
			if c.name == "postgres" {
				refusesNewer(t, pg.DSN, from)
			}
		})
	}
}

// optional is the committee with the i%8th subset of the three Cc's a
// petition's organisers suggest: 20 signers over the 8 subsets make 8
// sets of the committee and its Cc's, none a signer's alone, matched 8
// (5 members and 3 Cc's) under schema 18: a campaign; under 19 the
// committee is the core and the sets are the 7 non-empty subsets of 3
// Cc's, matched 3.
func optional(i int) []string {
	s := slices.Clone(committee)
	for j, cc := range []string{"mayor", "paper", "secretary"} {
		if i%8&(1<<j) != 0 {
			s = append(s, cc)
		}
	}
	return s
}

// friendOf is the committee with a friend of signer i's own for the
// first 4 signers (review rp's "4 of the first 5 Cc a friend"): under
// schema 18 five sets of their own at the fifth signer, matched 5 (4
// friends and a member), a campaign; under 19 the committee is the core,
// the fifth signer is left with nothing, matched 4.
func friendOf(i int) []string {
	if i < 4 {
		return append(slices.Clone(committee), fmt.Sprint("friend", i))
	}
	return committee
}

// spearCore are the recipients of copy i of a spear-phishing run over one
// company's 20 staff, each copy to a random k of them, drawn with seed.
func spearCore(seed uint64, k, i int) []string {
	r := rand.New(rand.NewPCG(seed, uint64(k*100+i)))
	var rs []string
	for _, j := range r.Perm(20)[:k] {
		rs = append(rs, fmt.Sprint("staff", j))
	}
	return rs
}

// On every store, each copy's result the same on the three (issue 28,
// schema 19: the core dropped): the petitions review rp found to be
// campaigns are none: 4 of the first 5 signers Cc'ing a friend (then 15
// more without), 20 signers each with a subset of three optional Cc's
// (all 8 subsets); signers who wrote only to the committee (all of them
// core, nothing left) are none either. The runs are found where they
// were: spear-phishing over one company's 20 staff with each copy to 12
// or to 15 of them (5 draws each: every victim reached by 60-75% of the
// accounts) at the fifth account; a run with a victim of each account's
// own and two decoys on every copy (the decoys core) at the fifth.
func TestCampaignCoreShapes(t *testing.T) {
	sts := stores(t)
	now := time.Now().Add(-14 * time.Minute)
	send := func(text, account string, rcpts ...string) limits.CampaignResult {
		t.Helper()
		now = now.Add(time.Second)
		return agreeOnStores(t, sts, limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Rcpts: rcpts, Time: now, Bands: 5})
	}
	for _, p := range []struct {
		text string
		to   func(i int) []string
	}{{"friends", friendOf}, {"optional", optional}, {"committee only", func(int) []string { return committee }}} {
		for i := range 20 {
			if res := send(p.text, fmt.Sprint(p.text, i), p.to(i)...); res.ID != "" {
				t.Fatalf("%s, signer %d: %+v", p.text, i, res)
			}
		}
	}
	for _, k := range []int{12, 15} {
		for seed := range uint64(5) {
			text := fmt.Sprint("spear", k, "-", seed)
			for i := range 8 {
				if res := send(text, fmt.Sprint(text, "-", i), spearCore(seed, k, i)...); res.New != (i == 4) || res.Known != (i > 4) {
					t.Fatalf("%d of 20 staff, draw %d, account %d: %+v", k, seed, i, res)
				}
			}
		}
	}
	for i := range 6 {
		if res := send("decoys", fmt.Sprint("d", i), fmt.Sprint("victim", i), "decoy1", "decoy2"); res.New != (i == 4) || res.Known != (i > 4) {
			t.Fatalf("a victim each and two decoys, account %d: %+v", i, res)
		}
	}
}

// The three stores agree on the core (issue 28, schema 19): 30 texts,
// each sent by up to 12 accounts (a few twice: their sets grow) to a
// committee of five, a member left out in one copy of ten, with 1-2 of 6
// extras at random in none to 3 copies of 4 (as the text goes), or now and then no
// recipient at all (an own recipient each): cores of the whole
// committee, of part of it, none; groups left with nothing, sets of
// extras alone. Every copy's result is the same on SQLite (Go's reach),
// Redis (the script's) and PostgreSQL (og_campaign's), and some texts
// become campaigns and some do not.
func TestCampaignCoreAgree(t *testing.T) {
	agreeOnTexts(t, 19, "core", func(r *rand.Rand, text int) []string {
		if r.IntN(12) == 0 {
			return nil
		}
		var rcpts []string
		skip := -1
		if r.IntN(10) == 0 {
			skip = r.IntN(5)
		}
		for j, m := range committee {
			if j != skip {
				rcpts = append(rcpts, m)
			}
		}
		if r.IntN(4) < text%4 {
			for range 1 + r.IntN(2) {
				rcpts = append(rcpts, fmt.Sprint("extra", r.IntN(6)))
			}
		}
		return rcpts
	})
}

// agreeOnTexts counts 30 texts of 12 copies each on the three stores
// (agreeOnStores, copy by copy), the copies' recipients drawn by
// rcptsOf, some accounts sending twice; it fails t unless the texts'
// answers are mixed (neither all nor none a campaign: a draw that tries
// one way only compares nothing).
func agreeOnTexts(t *testing.T, seed uint64, key string, rcptsOf func(r *rand.Rand, text int) []string) {
	sts := stores(t)
	r := rand.New(rand.NewPCG(28, seed))
	base := time.Now().Add(-10 * time.Minute)
	found := 0
	for text := range 30 {
		established := false
		for i := range 12 {
			acct := fmt.Sprintf("t%d-a%d", text, i)
			if i > 0 && r.IntN(6) == 0 {
				acct = fmt.Sprintf("t%d-a%d", text, r.IntN(i))
			}
			res := agreeOnStores(t, sts, limits.CampaignCopy{Keys: campaignKeys(fmt.Sprint(key, text), false),
				Account: acct, Rcpts: rcptsOf(r, text), Time: base.Add(time.Duration(text*12+i) * time.Second), Bands: 5})
			established = established || res.ID != ""
		}
		if established {
			found++
		}
	}
	if found == 0 || found == 30 {
		t.Fatalf("%d of 30 texts campaigns: the draw tries one way only", found)
	}
	t.Logf("%d of 30 texts campaigns", found)
}

// Schema 19 on a store of version 18 (issue 28), on SQLite and
// PostgreSQL: 3 signers of a petition Cc'ing a friend each are recorded
// before; on PostgreSQL the store is then given back og_campaign of
// versions 17 and 18, under which another petition's fifth signer (4 of
// the first 5 Cc'ing a friend) is a campaign (the test would see a
// migration that left it). After the upgrade the first petition's fourth
// friend and 16 more signers are no campaign (the rows recorded before
// are read the same), and a spear-phishing run is found at its fifth
// account. SQLite's version is 19 too (its reach is Go's).
func TestCampaignCoreMigration(t *testing.T) {
	upgradeFrom(t, 18, limits.OgCampaignVersion17, func(t *testing.T, cs limits.CampaignStore, now *time.Time) {
		for i := range 3 {
			if res := copyTo(t, cs, now, "before", fmt.Sprint("b", i), friendOf(i)...); res.ID != "" {
				t.Fatalf("signer %d: %+v", i, res)
			}
		}
	}, func(t *testing.T, old limits.CampaignStore, now *time.Time) {
		for i := range 5 {
			if res := copyTo(t, old, now, "old", fmt.Sprint("o", i), friendOf(i)...); res.New != (i == 4) {
				t.Fatalf("version 18, signer %d: %+v", i, res)
			}
		}
	}, func(t *testing.T, st, _ limits.CampaignStore, now *time.Time) {
		for i := 3; i < 20; i++ {
			if res := copyTo(t, st, now, "before", fmt.Sprint("b", i), friendOf(i)...); res.ID != "" {
				t.Fatalf("signer %d after the upgrade: %+v", i, res)
			}
		}
		for i := range 5 {
			if res := copyTo(t, st, now, "spear", fmt.Sprint("s", i), spearCore(19, 12, i)...); res.New != (i == 4) {
				t.Fatalf("spear copy %d after the upgrade: %+v", i, res)
			}
		}
	})
}

// A fleet upgraded one host at a time (issue 28, schema 19). On
// PostgreSQL a host of 18 is counting when the first host of 19 replaces
// og_campaign; the host of 18 still running calls it with the same
// arguments and gets the rule of 19 from then on: a petition with the
// three optional Cc's, its 20 signers alternating between the hosts, is
// no campaign, and a spear-phishing run alternating between them is found
// at its fifth account; a milterd of 18 restarted refuses the store. On
// Redis there is no schema: each host runs its own script on the same
// keys, which both read and write alike. The spear-phishing run is found
// at its fifth account whichever host counts it; the petition with 4 of
// its first 5 signers Cc'ing a friend is judged by the host that counts
// the fifth copy: a campaign on a host of 18 (as before the upgrade),
// none on a host of 19 (docs/suspension.md: upgrade the fleet's hosts
// together on Redis).
func TestCampaignCoreRollingUpgrade(t *testing.T) {
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		pg := harness.StartPostgres(t)
		old, err := limits.OpenPostgresAt(ctx, pg.DSN, 18)
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		now := time.Now().Add(-10 * time.Minute)
		for i := range 3 {
			if res := copyTo(t, old.(limits.CampaignStore), &now, "optional", fmt.Sprint("m", i), optional(i)...); res.ID != "" {
				t.Fatalf("signer %d before the upgrade: %+v", i, res)
			}
		}
		st, err := limits.OpenPostgres(ctx, pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		hosts := []limits.CampaignStore{old.(limits.CampaignStore), st}
		for i := 3; i < 20; i++ {
			if res := copyTo(t, hosts[i%2], &now, "optional", fmt.Sprint("m", i), optional(i)...); res.ID != "" {
				t.Fatalf("signer %d on host %d: %+v", i, i%2, res)
			}
		}
		for i := range 6 {
			res := copyTo(t, hosts[i%2], &now, "spear", fmt.Sprint("s", i), spearCore(28, 15, i)...)
			if res.New != (i == 4) || res.Known != (i == 5) {
				t.Fatalf("spear copy %d on host %d: %+v", i, i%2, res)
			}
		}
		refusesNewer(t, pg.DSN, 18)
	})
	t.Run("redis", func(t *testing.T) {
		st, err := limits.OpenRedis(ctx, harness.StartRedis(t).Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		now := time.Now().Add(-10 * time.Minute)
		// host 0 of 18, host 1 of 19
		send := func(host int, text, account string, rcpts ...string) limits.CampaignResult {
			t.Helper()
			now = now.Add(time.Second)
			c := limits.CampaignCopy{Keys: campaignKeys(text, false), Account: account, Rcpts: rcpts, Time: now, Bands: 5}
			var res limits.CampaignResult
			var err error
			if host == 0 {
				res, err = limits.CampaignCopyV18(ctx, st, c, 15*time.Minute, 5)
			} else {
				res, err = st.CampaignCopy(ctx, c, 15*time.Minute, 5)
			}
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		for _, fifth := range []int{0, 1} {
			text := fmt.Sprint("friends", fifth)
			for i := range 5 {
				host := (i + fifth) % 2
				if res := send(host, text, fmt.Sprint(text, "-", i), friendOf(i)...); res.New != (i == 4 && host == 0) {
					t.Fatalf("signer %d on host %d (of %d): %+v", i, host, 18+host, res)
				}
			}
		}
		for i := range 6 {
			res := send(i%2, "spear", fmt.Sprint("s", i), spearCore(28, 15, i)...)
			if res.New != (i == 4) || res.Known != (i == 5) {
				t.Fatalf("spear copy %d on host %d: %+v", i, i%2, res)
			}
		}
	})
}

// spearFound is the account (1-based) at which reach's rule finds a
// spear-phishing run over one company's 20 staff, each copy to a random
// k of them (spearCore), within 20 accounts; 0: never.
func spearFound(seed uint64, k int) int {
	var copies [][]string
	for i := range 20 {
		copies = append(copies, spearCore(seed, k, i))
		if limits.Reach(copies, 5) {
			return i + 1
		}
	}
	return 0
}

// interleavedPetition reports whether reach's rule makes a campaign of
// a petition to the committee in two messages per signer: 20 signers,
// each its own split of the five members (2 or 3 in the first message,
// in its own order), the 40 messages in a random order within the
// window, the rule judged at each message on every signer's recipients
// so far.
func interleavedPetition(seed uint64) bool {
	r := rand.New(rand.NewPCG(seed, 99))
	parts := make([][2][]string, 20)
	var msgs []int
	for s := range parts {
		k := 2 + r.IntN(2)
		for j, m := range r.Perm(5) {
			parts[s][min(1, j/k)] = append(parts[s][min(1, j/k)], committee[m])
		}
		msgs = append(msgs, s, s)
	}
	r.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	sent := map[int][]string{}
	var order []int
	for _, s := range msgs {
		if _, ok := sent[s]; !ok {
			order = append(order, s)
			sent[s] = parts[s][0]
		} else {
			sent[s] = append(slices.Clone(sent[s]), parts[s][1]...)
		}
		var sets [][]string
		for _, o := range order {
			sets = append(sets, sent[o])
		}
		if limits.Reach(sets, 5) {
			return true
		}
	}
	return false
}

// reach's rule with the core dropped (schema 19), over draws, pinned.
// The attack the core opens, an attacker making its victims core: a
// spear-phishing run over one company's 20 staff with each copy to k of
// them, 2000 draws per k, the account at which it is found (0: not
// within 20). Every figure is schema 18's, draw for draw (the same test
// run on 18's reach): at 12 (each victim reached by 60% of the accounts)
// every draw at the fifth; at 15 (75%) all but one, that one at the
// sixth; at 17 and 19 of 20 the run is close to one list sent by all
// (no campaign since schema 17), and a victim is core only when every
// account so far reached it. With core meaning "all groups but at most a
// quarter" (the brief's example) 19 of 20 was never found in 415 of 1000
// draws (a simulation of that rule): its victims became core as its
// accounts grew. And the petition in two messages per signer
// interleaved, 500 draws: a campaign in 495 (schema 18: 495; with the core dropped whole, 490), a known
// limit: half-way signers are sets of their own over the members, and
// nothing is core while some have not written to all.
func TestReachCoreDraws(t *testing.T) {
	for _, c := range []struct {
		k    int
		want map[int]int
	}{
		{12, map[int]int{5: 2000}},
		{15, map[int]int{5: 1999, 6: 1}},
		{17, map[int]int{5: 1980, 6: 19, 8: 1}},
		{19, map[int]int{0: 7, 5: 1140, 6: 622, 7: 57, 8: 94, 10: 25, 12: 12, 13: 5, 14: 3, 15: 9, 16: 9, 17: 4, 18: 6, 19: 2, 20: 5}},
	} {
		got := map[int]int{}
		for seed := range uint64(2000) {
			got[spearFound(seed, c.k)]++
		}
		t.Logf("spear-phishing, %d of 20 staff per copy: found at account (0: never) %v of 2000 draws", c.k, got)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%d of 20 staff: found at %v, want %v", c.k, got, c.want)
		}
	}
	n := 0
	for seed := range uint64(500) {
		if interleavedPetition(seed) {
			n++
		}
	}
	t.Logf("petition in two messages per signer, interleaved: a campaign in %d of 500 draws", n)
	if n != 495 {
		t.Errorf("petition in two messages per signer, interleaved: a campaign in %d of 500 draws, want 495 (docs/suspension.md)", n)
	}
}

// A spear-phishing (BEC) run that always includes the company's finance
// team (review r2): 15 stolen accounts over a company of 12 staff, every
// copy to the same 8 (finance, the executives) and each to its own
// non-empty subset of the other 4 (copies to 9-12 of the 12 staff, no
// two alike). Under schema 18 it is found at the fifth account (the
// Redis script of 18 on the same store: the test checks it). With the
// core dropped whole the sets left were subsets of 4 staff, matched 4 at
// most: never found within 15, on every store. The core is one recipient
// of the sets left with something (coreRcpt): found at the eighth
// account, once the subsets have reached all 4 others (the core and 4:
// 5), on every store. A run whose copies vary over 3 others besides
// such a core is matched 4: the shape of the organisers' three optional
// Cc's, which must be none (TestCampaignCoreShapes).
func TestCampaignCoreAlwaysIncludedStaff(t *testing.T) {
	sts := stores(t)
	finance := []string{"cfo", "ceo", "ap1", "ap2", "ap3", "controller", "treasury", "payroll"}
	others := []string{"staff9", "staff10", "staff11", "staff12"}
	to := func(i int) []string {
		rs := slices.Clone(finance)
		for j, o := range others {
			if (i+1)&(1<<j) != 0 {
				rs = append(rs, o)
			}
		}
		return rs
	}
	ctx := t.Context()
	now := time.Now().Add(-14 * time.Minute)
	for i := range 6 {
		now = now.Add(time.Second)
		c := limits.CampaignCopy{Keys: campaignKeys("r2 bec v18", false), Account: fmt.Sprint("v18-", i), Rcpts: to(i), Time: now, Bands: 5}
		res, err := limits.CampaignCopyV18(ctx, sts["redis"], c, 15*time.Minute, 5)
		if err != nil {
			t.Fatal(err)
		}
		if res.New != (i == 4) {
			t.Fatalf("schema 18, account %d: %+v", i, res)
		}
	}
	found := 0
	for i := range 15 {
		now = now.Add(time.Second)
		res := agreeOnStores(t, sts, limits.CampaignCopy{Keys: campaignKeys("r2 bec", false), Account: fmt.Sprint("bec-", i), Rcpts: to(i), Time: now, Bands: 5})
		if res.ID != "" && found == 0 {
			found = i + 1
		}
	}
	if found != 8 {
		t.Errorf("a run whose every copy goes to the 8 of finance and a subset of 4 more staff: found at account %d (0: never within 15), want the eighth (schema 18: the fifth)", found)
	}
}
