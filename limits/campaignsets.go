package limits

import "strings"

// pgReachSets is reach of schema 17 in og_campaign: the groups' edges
// (e) collapsed to their recipient sets (s: a group's recipients, sorted
// and joined, names its set), the sets numbered 1..n for og_reach, and
// reachNeed's count of the groups whose set no other group has.
const pgReachSets = `				s AS (SELECT e.g, string_agg(e.r, ' ' ORDER BY e.r COLLATE "C") AS rs FROM e GROUP BY e.g),
				u AS (SELECT DISTINCT s.rs, e.r FROM s JOIN e ON e.g = s.g),
				x AS (SELECT CAST(dense_rank() OVER (ORDER BY u.rs COLLATE "C") AS INTEGER) AS gi, CAST(dense_rank() OVER (ORDER BY u.r COLLATE "C") AS INTEGER) AS ri FROM u)
			SELECT array_agg(x.gi ORDER BY x.gi, x.ri), array_agg(x.ri ORDER BY x.gi, x.ri),
				(SELECT CASE WHEN 2 * count(*) FILTER (WHERE c.n = 1) >= sum(c.n) THEN v_threshold ELSE count(*) FILTER (WHERE c.n = 1) + v_threshold END
					FROM (SELECT count(*) AS n FROM s GROUP BY s.rs) c)
				INTO v_eg, v_er, v_need FROM x;
			IF og_reach(v_eg, v_er, v_need) < v_need THEN
`

// ogCampaignSets is PostgreSQL's version 17 (issue 28: a petition to a
// committee): og_campaign of version 16 whose reach matches recipient
// sets rather than groups, with reachNeed counting the groups whose set
// is theirs alone (reach, campaign.go). Nothing else changes, in either
// database: SQLite's schema 17 has no statement (its reach is Go's), and
// the rows recorded before are read the same way.
func ogCampaignSets() string {
	f := ogCampaignCap()
	old := "\t\t\t\tx AS (SELECT CAST(dense_rank() OVER (ORDER BY e.g COLLATE \"C\") AS INTEGER) AS gi, CAST(dense_rank() OVER (ORDER BY e.r COLLATE \"C\") AS INTEGER) AS ri FROM e)\n" +
		"\t\t\tSELECT array_agg(x.gi ORDER BY x.gi, x.ri), array_agg(x.ri ORDER BY x.gi, x.ri) INTO v_eg, v_er FROM x;\n" + pgReachNeed
	if strings.Count(f, old) != 1 {
		panic("limits: og_campaign of version 16 changed: version 17's reach has no place")
	}
	return strings.Replace(f, old, pgReachSets, 1)
}

// ogMergeLowest is PostgreSQL's version 18 (issue 28): og_merge_rcpts
// (version 14's, which og_campaign calls) replaced with mergeRcpts of
// schema 18: the p_max lowest of the old list and the copy's, bytewise,
// not the first. Same signature: the grants stay, and og_campaign of
// any version since 14 merges this way, a milterd of 17's copies too.
// Nothing in SQLite, whose merge is Go's.
func ogMergeLowest() string {
	const old = "CREATE FUNCTION og_merge_rcpts(p_old TEXT, p_add TEXT[], p_max BIGINT) RETURNS TEXT\n"
	if strings.Count(campaignFunctions, old) != 1 {
		panic("limits: og_merge_rcpts of version 14 changed: version 18 has nothing to replace")
	}
	return "CREATE OR REPLACE" + strings.TrimPrefix(old, "CREATE") + `LANGUAGE sql IMMUTABLE AS $$
	SELECT COALESCE(string_agg(x.r, ' ' ORDER BY x.r COLLATE "C"), '') FROM (
		SELECT DISTINCT u.r COLLATE "C" AS r
		FROM unnest(string_to_array(COALESCE(p_old, ''), ' ') || COALESCE(p_add, '{}')) AS u(r)
		WHERE u.r <> '' ORDER BY 1 LIMIT p_max) x
$$;
`
}

// pgReachCore is reach of schema 19 in og_campaign: pgReachSets over
// the edges left once the core is dropped (k: the recipients reached by
// every group and by at least v_threshold and two, core), a group left with
// nothing in no set, a group left with something reaching the core as
// one recipient ('*core', coreRcpt); the groups reachNeed weighs the
// spread against are all of them (ng).
const pgReachCore = `				ng AS (SELECT count(DISTINCT e.g) AS n FROM e),
				k AS (SELECT e.r FROM e GROUP BY e.r HAVING count(*) = (SELECT ng.n FROM ng) AND count(*) >= GREATEST(v_threshold, 2)),
				l0 AS (SELECT e.g, e.r FROM e WHERE e.r NOT IN (SELECT k.r FROM k)),
				l AS (SELECT l0.g, l0.r FROM l0 UNION SELECT DISTINCT l0.g, '*core' FROM l0 WHERE EXISTS (SELECT 1 FROM k)),
				s AS (SELECT l.g, string_agg(l.r, ' ' ORDER BY l.r COLLATE "C") AS rs FROM l GROUP BY l.g),
				u AS (SELECT DISTINCT s.rs, l.r FROM s JOIN l ON l.g = s.g),
				x AS (SELECT CAST(dense_rank() OVER (ORDER BY u.rs COLLATE "C") AS INTEGER) AS gi, CAST(dense_rank() OVER (ORDER BY u.r COLLATE "C") AS INTEGER) AS ri FROM u)
			SELECT array_agg(x.gi ORDER BY x.gi, x.ri), array_agg(x.ri ORDER BY x.gi, x.ri),
				(SELECT CASE WHEN 2 * count(*) FILTER (WHERE c.n = 1) >= (SELECT ng.n FROM ng) THEN v_threshold ELSE count(*) FILTER (WHERE c.n = 1) + v_threshold END
					FROM (SELECT count(*) AS n FROM s GROUP BY s.rs) c)
				INTO v_eg, v_er, v_need FROM x;
			IF og_reach(v_eg, v_er, v_need) < v_need THEN
`

// ogCampaignCore is PostgreSQL's version 19 (issue 28: the petition's
// variations): og_campaign of version 17 whose reach drops the core
// recipients before it matches the sets (reach, campaign.go). Same
// signature and arguments: a milterd of 17 or 18 still running calls it
// and gets the rule of 19. Nothing in SQLite, whose reach is Go's; the
// rows recorded before are read the same way.
func ogCampaignCore() string {
	f := ogCampaignSets()
	if strings.Count(f, pgReachSets) != 1 {
		panic("limits: og_campaign of version 17 changed: version 19's reach has no place")
	}
	return strings.Replace(f, pgReachSets, pgReachCore, 1)
}

// campaignT0Schema is version 20 on both databases (issue 28: priming
// over many windows): per key and account the time its recorded list
// began. A row of 19 reads 0, a list begun more than a window ago: its
// next copy starts it again (campMine). A milterd of 19 on a store of 20
// leaves t0 as it was: it merges into the list as 19 did, and its new
// rows read 0, started again at the next copy counted by a host of 20.
const campaignT0Schema = `
ALTER TABLE campaign_keys ADD COLUMN t0 BIGINT NOT NULL DEFAULT 0;
`

// pgMerge19 and pgMerge20 are campMine and campKeyUpsert in og_campaign
// of schemas 14 to 19 and of 20: of 20, the account's list merged only if
// it began within the window, else the copy's recipients alone, t0 the
// copy's time.
const (
	pgMerge19 = `		INSERT INTO campaign_keys AS ck (fkey, account, t, grp, rcpts)
			SELECT x.k, p_account, v_now, p_group, og_merge_rcpts(m.rcpts, p_rcpts, p_n[6])
			FROM (SELECT DISTINCT unnest(p_keys) AS k) x LEFT JOIN campaign_keys m ON m.fkey = x.k AND m.account = p_account AND m.t >= v_cutoff
			ON CONFLICT (fkey, account) DO UPDATE SET t = excluded.t, grp = excluded.grp, rcpts = excluded.rcpts WHERE excluded.t >= ck.t;
`
	pgMerge20 = `		INSERT INTO campaign_keys AS ck (fkey, account, t, grp, rcpts, t0)
			SELECT x.k, p_account, v_now, p_group, og_merge_rcpts(m.rcpts, p_rcpts, p_n[6]), COALESCE(m.t0, v_now)
			FROM (SELECT DISTINCT unnest(p_keys) AS k) x LEFT JOIN campaign_keys m ON m.fkey = x.k AND m.account = p_account AND m.t0 >= v_cutoff
			ON CONFLICT (fkey, account) DO UPDATE SET t = excluded.t, grp = excluded.grp, rcpts = excluded.rcpts, t0 = excluded.t0 WHERE excluded.t >= ck.t;
`
)

// ogCampaignT0 is PostgreSQL's version 20: og_campaign of version 19
// whose lists restart once they began more than a window before the copy
// (pgMerge20), with campaignT0Schema's column. Same signature and
// arguments: a milterd of 19 still running calls it and gets the rule of
// 20 (on PostgreSQL its copies restart lists too).
func ogCampaignT0() string {
	f := ogCampaignCore()
	if strings.Count(f, pgMerge19) != 1 {
		panic("limits: og_campaign of version 19 changed: version 20's merge has no place")
	}
	return campaignT0Schema + strings.Replace(f, pgMerge19, pgMerge20, 1)
}
