package limits

import (
	"strconv"
	"strings"
)

// CampaignKeySenders bounds the senders kept per campaign key: a copy's
// count reads at most this many of each key, the most recent (the latest
// time, then the greatest account: Redis' rank order), and the older
// ones are dropped as the copy is recorded (SQL: DELETE; Redis:
// ZREMRANGEBYRANK). Without it a text that very many accounts send and
// that is never a campaign (a petition each customer sends to one
// address: one recipient between them) cost every commit of it in
// proportion to its senders, and on Redis and SQLite every other commit
// of the fleet waited behind it. campaign.accounts is at most this
// (config): the distinct senders a campaign needs are always among those
// kept, so a text with fewer senders is counted as before; of one with
// more, the most recent ones decide (a run spread over stolen accounts
// among a petition's senders is found once threshold of its accounts are
// among the most recent).
const CampaignKeySenders = 256

// keySenders is the bound of a store whose ksend is n: CampaignKeySenders
// but in the tests that hit it with fewer copies (SetCampaignKeySenders),
// through the same statements and script.
func keySenders(n int) int {
	if n > 0 {
		return n
	}
	return CampaignKeySenders
}

// campTrim drops the senders of the copy's keys ($2) beyond the most
// recent $1 of each (CampaignKeySenders), after the copy's own are
// recorded: SQLite's; og_campaign does the same as of version 16. The
// window is not looked at: rows older than it rank last, so those within
// it that are kept are the most recent $1 of them, as on Redis, which
// drops the rows past the window first.
const campTrim = `DELETE FROM campaign_keys WHERE fkey IN KEYS($2) AND (fkey, account) IN (
	SELECT r.fkey, r.account FROM (SELECT fkey, account, ROW_NUMBER() OVER (PARTITION BY fkey ORDER BY t DESC, account DESC) AS rn
		FROM campaign_keys WHERE fkey IN KEYS($2)) r WHERE r.rn > $1)`

// campaignCapSchema is version 16 on both databases (issue 28): the keys
// recorded before are trimmed to CampaignKeySenders senders once.
var campaignCapSchema = `
DELETE FROM campaign_keys WHERE (fkey, account) IN (
	SELECT r.fkey, r.account FROM (SELECT fkey, account, ROW_NUMBER() OVER (PARTITION BY fkey ORDER BY t DESC, account DESC) AS rn
		FROM campaign_keys) r WHERE r.rn > ` + strconv.Itoa(CampaignKeySenders) + `);
`

// pgTrim is campTrim in og_campaign (p_n[9]: CampaignKeySenders; a
// caller of an older version passes none, and nothing is dropped).
const pgTrim = `		DELETE FROM campaign_keys d USING (SELECT r.fkey, r.account FROM (
				SELECT ck.fkey, ck.account, row_number() OVER (PARTITION BY ck.fkey ORDER BY ck.t DESC, ck.account COLLATE "C" DESC) AS rn
				FROM campaign_keys ck WHERE ck.fkey = ANY(p_keys)) r WHERE r.rn > p_n[9]) x
			WHERE d.fkey = x.fkey AND d.account = x.account;
`

// pgReachNeed is reachNeed of schema 16 in og_campaign: the groups (og_reach's are
// numbered 1..n), those with a recipient no other group reaches (the
// edges are distinct: a recipient of one edge is one group's).
const pgReachNeed = `			SELECT CASE WHEN 2 * e.n >= g.n THEN v_threshold ELSE e.n + v_threshold END INTO v_need
				FROM (SELECT count(DISTINCT x.g) AS n FROM unnest(v_eg, v_er) AS x(g, r)
					WHERE x.r IN (SELECT y.r FROM unnest(v_er) AS y(r) GROUP BY y.r HAVING count(*) = 1)) e,
				(SELECT COALESCE(max(y.g), 0) AS n FROM unnest(v_eg) AS y(g)) g;
			IF og_reach(v_eg, v_er, v_need) < v_need THEN
`

// ogCampaignCap is PostgreSQL's version 16: og_campaign of version 14
// with the trim after the copy's keys are recorded, and a campaign's
// reach of reachNeed.
func ogCampaignCap() string {
	i := strings.Index(campaignFunctions, "CREATE FUNCTION og_campaign(")
	if i < 0 {
		panic("limits: og_campaign of version 14 is gone: version 16 has nothing to replace")
	}
	f := campaignFunctions[i:]
	for _, r := range [][2]string{
		{"WHERE excluded.t >= ck.t;\n", "WHERE excluded.t >= ck.t;\n" + pgTrim},
		{"\tv_key TEXT;\n", "\tv_key TEXT;\n\tv_need INTEGER;\n"},
		{"\t\t\tIF og_reach(v_eg, v_er, v_threshold) < v_threshold THEN\n", pgReachNeed},
	} {
		if strings.Count(f, r[0]) != 1 {
			panic("limits: og_campaign of version 14 changed: version 16's " + strings.TrimSpace(r[0]) + " has no place")
		}
		f = strings.Replace(f, r[0], r[1], 1)
	}
	return "CREATE OR REPLACE" + strings.TrimPrefix(f, "CREATE")
}
