package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// campaignFunctions is PostgreSQL's schema version 14 (issue 32: every
// store one round trip per stage): a campaign copy is counted by the
// server, og_campaign, called by og_admit for an admitted message's copy
// (ogadmit.go) and alone by CampaignCopy. Before, the copy was a
// transaction of its own after og_admit: BEGIN, a lock per key, a
// statement per key and per campaign write, COMMIT, 47 round trips for a
// copy of 20 keys; now it is none beyond og_admit's.
//
// og_campaign is campaignIn (campaign.go, SQLite's) statement for
// statement, under the same locks as CampaignCopy took (every key's, in
// the caller's sorted order, after og_admit's account lock: nothing
// takes a key's lock and then an account's), with the copy's keys one
// array parameter. The orderings that choose something (the campaign a
// copy joins, the key a new one is named by, the senders' order) compare
// bytes (COLLATE "C"), as SQLite and Go do. og_reach is reach (the
// maximum matching of groups to recipients) without recursion; its
// result does not depend on the order it tries the groups in. The reply
// is a JSON object: id, known, new, accounts, pending ([id, account]).
//
// p_n: now (ms), cutoff (ms), threshold, bands, suspend (0/1), most
// recipients kept (MaxRcpts), most pending returned (maxPending), most
// accounts returned (CampaignAccountsMax), as of version 16 most senders
// kept per key (CampaignKeySenders, campaigncap.go).
const campaignFunctions = `
-- mergeRcpts: p_add's recipients not yet in the space-separated p_old
-- appended, while fewer than p_max.
CREATE FUNCTION og_merge_rcpts(p_old TEXT, p_add TEXT[], p_max BIGINT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	rs TEXT[] := COALESCE(array_remove(string_to_array(p_old, ' '), ''), '{}');
	r TEXT;
BEGIN
	FOREACH r IN ARRAY COALESCE(p_add, '{}') LOOP
		EXIT WHEN cardinality(rs) >= p_max;
		IF NOT r = ANY(rs) THEN
			rs := rs || r;
		END IF;
	END LOOP;
	RETURN array_to_string(rs, ' ');
END $$;

-- reach: the size of a maximum matching of groups (1..n) to recipients
-- (1..m), edges p_g[i]-p_r[i] sorted by group, stopping at p_need:
-- Kuhn's augmenting paths with the recursion's frames on a stack (group,
-- next edge to try).
CREATE FUNCTION og_reach(p_g INTEGER[], p_r INTEGER[], p_need INTEGER) RETURNS INTEGER
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	ne INTEGER := COALESCE(cardinality(p_g), 0);
	ng INTEGER := COALESCE((SELECT max(x) FROM unnest(p_g) x), 0);
	nr INTEGER := COALESCE((SELECT max(x) FROM unnest(p_r) x), 0);
	fst INTEGER[] := array_fill(0, ARRAY[ng + 1]);
	own INTEGER[] := array_fill(0, ARRAY[nr]);
	seen INTEGER[] := array_fill(0, ARRAY[nr]);
	sg INTEGER[];
	sp INTEGER[];
	top INTEGER;
	g INTEGER;
	p INTEGER;
	r INTEGER;
	n INTEGER := 0;
BEGIN
	FOR i IN REVERSE ne .. 1 LOOP
		fst[p_g[i]] := i;
	END LOOP;
	fst[ng + 1] := ne + 1;
	FOR g0 IN 1 .. ng LOOP
		EXIT WHEN n >= p_need;
		sg := ARRAY[g0];
		sp := ARRAY[fst[g0]];
		top := 1;
		WHILE top > 0 LOOP
			g := sg[top];
			p := sp[top];
			IF p >= fst[g + 1] THEN
				top := top - 1;
				CONTINUE;
			END IF;
			sp[top] := p + 1;
			r := p_r[p];
			CONTINUE WHEN seen[r] = g0;
			seen[r] := g0;
			IF own[r] = 0 THEN
				-- A free recipient: every frame's group takes the one it
				-- tried last (the next frame's group gives it up).
				FOR i IN 1 .. top LOOP
					own[p_r[sp[i] - 1]] := sg[i];
				END LOOP;
				n := n + 1;
				EXIT;
			END IF;
			top := top + 1;
			sg[top] := own[r];
			sp[top] := fst[own[r]];
		END LOOP;
	END LOOP;
	RETURN n;
END $$;

CREATE FUNCTION og_campaign(p_keys TEXT[], p_account TEXT, p_group TEXT, p_rcpts TEXT[], p_subject TEXT, p_n BIGINT[])
RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
	v_now BIGINT := p_n[1];
	v_cutoff BIGINT := p_n[2];
	v_threshold INTEGER := p_n[3];
	v_quorum INTEGER := GREATEST(p_n[4], 1);
	v_attach INTEGER := GREATEST(p_n[4] - 1, 0);
	v_susp INTEGER := p_n[5];
	v_id TEXT;
	v_known BOOLEAN := false;
	v_new BOOLEAN := false;
	v_accts TEXT[];
	v_lasts BIGINT[];
	v_eg INTEGER[];
	v_er INTEGER[];
	v_key TEXT;
BEGIN
	IF COALESCE(cardinality(p_keys), 0) = 0 THEN
		RETURN NULL;
	END IF;
	-- Every key's lock, in one order (the caller's, sorted): two copies
	-- sharing a key wait for each other, and no two wait in a circle.
	FOREACH v_key IN ARRAY p_keys LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('campaign:' || v_key, 0));
	END LOOP;
	<<count>>
	BEGIN
		-- campLinked: the earliest campaign a quorum of the keys link to,
		-- of those threshold senders sent, this one included (a group
		-- one sender).
		SELECT l.id INTO v_id FROM campaign_links l JOIN campaigns c ON c.id = l.id
			WHERE l.t >= v_cutoff AND l.fkey = ANY(p_keys)
			AND (SELECT COUNT(DISTINCT CASE WHEN k.grp = '' THEN 'a:' || k.account ELSE k.grp END) FROM campaign_keys k
				WHERE k.fkey = l.fkey AND k.t >= v_cutoff AND k.account <> p_account AND (p_group = '' OR k.grp <> p_group)) >= v_threshold - 1
			GROUP BY l.id, c.t0 HAVING SUM(CASE WHEN l.fkey LIKE 't%' THEN 1 WHEN l.fkey LIKE 'a%' THEN v_quorum ELSE v_attach END) >= v_quorum
			ORDER BY c.t0, l.id COLLATE "C" LIMIT 1;
		v_known := v_id IS NOT NULL;
		-- campMine and campKeyUpsert: the recipients this account reached
		-- with each key within the window, this copy's added.
		INSERT INTO campaign_keys AS ck (fkey, account, t, grp, rcpts)
			SELECT x.k, p_account, v_now, p_group, og_merge_rcpts(m.rcpts, p_rcpts, p_n[6])
			FROM (SELECT DISTINCT unnest(p_keys) AS k) x LEFT JOIN campaign_keys m ON m.fkey = x.k AND m.account = p_account AND m.t >= v_cutoff
			ON CONFLICT (fkey, account) DO UPDATE SET t = excluded.t, grp = excluded.grp, rcpts = excluded.rcpts WHERE excluded.t >= ck.t;
		IF NOT v_known THEN
			-- campSenders: the accounts whose keys agree with the copy on
			-- a quorum of bands.
			SELECT array_agg(s.account ORDER BY s.t, s.account COLLATE "C"), array_agg(s.t ORDER BY s.t, s.account COLLATE "C") INTO v_accts, v_lasts
			FROM (SELECT ck.account, MAX(ck.t) AS t FROM campaign_keys ck WHERE ck.t >= v_cutoff AND ck.fkey = ANY(p_keys)
				GROUP BY ck.account HAVING SUM(CASE WHEN ck.fkey LIKE 't%' THEN 1 WHEN ck.fkey LIKE 'a%' THEN v_quorum ELSE v_attach END) >= v_quorum) s;
			IF COALESCE(cardinality(v_accts), 0) < v_threshold THEN
				v_accts := NULL;
				EXIT count;
			END IF;
			-- campReach: their groups (an account's greatest) and the
			-- recipients they reached with the copy's keys (an account
			-- without any: one of its own), as edges group-recipient.
			WITH a AS (SELECT ck.account, MAX(ck.grp COLLATE "C") AS grp, array_remove(string_to_array(string_agg(ck.rcpts, ' '), ' '), '') AS rs
					FROM campaign_keys ck WHERE ck.t >= v_cutoff AND ck.fkey = ANY(p_keys) AND ck.account = ANY(v_accts) GROUP BY ck.account),
				e AS (SELECT DISTINCT CASE WHEN a.grp = '' THEN 'a:' || a.account ELSE a.grp END AS g, r
					FROM a, unnest(CASE WHEN cardinality(a.rs) = 0 THEN ARRAY['own:' || a.account] ELSE a.rs END) AS r),
				x AS (SELECT CAST(dense_rank() OVER (ORDER BY e.g COLLATE "C") AS INTEGER) AS gi, CAST(dense_rank() OVER (ORDER BY e.r COLLATE "C") AS INTEGER) AS ri FROM e)
			SELECT array_agg(x.gi ORDER BY x.gi, x.ri), array_agg(x.ri ORDER BY x.gi, x.ri) INTO v_eg, v_er FROM x;
			IF og_reach(v_eg, v_er, v_threshold) < v_threshold THEN
				v_accts := NULL;
				EXIT count;
			END IF;
			-- campName: a campaign is named by its most widely sent key.
			SELECT ck.fkey INTO v_id FROM campaign_keys ck WHERE ck.t >= v_cutoff AND ck.fkey = ANY(p_keys)
				GROUP BY ck.fkey ORDER BY COUNT(*) DESC, ck.fkey COLLATE "C" LIMIT 1;
			IF v_id IS NULL THEN
				RAISE EXCEPTION 'campaign: no key of the copy is recorded';
			END IF;
			v_new := true;
			-- campNew, campOther: the copy that crosses is not held, it
			-- is one of those that established the campaign.
			INSERT INTO campaigns AS c (id, t0, t, copies, held, subject) VALUES (v_id, v_now, v_now, cardinality(array_remove(v_accts, p_account)), 0, p_subject)
				ON CONFLICT (id) DO UPDATE SET t = excluded.t, copies = c.copies + excluded.copies;
			INSERT INTO campaign_accounts AS ca (id, account, t0, t, copies, pending)
				SELECT v_id, s.a, s.t, s.t, 1, v_susp FROM unnest(v_accts, v_lasts) AS s(a, t) WHERE s.a <> p_account
				ON CONFLICT (id, account) DO UPDATE SET t = CASE WHEN excluded.t > ca.t THEN excluded.t ELSE ca.t END,
					pending = CASE WHEN excluded.pending = 1 THEN 1 ELSE ca.pending END;
		END IF;
		-- campCopy, campSender, campLink: every key of a copy joins the
		-- campaign.
		UPDATE campaigns c SET t = v_now, copies = c.copies + 1, held = c.held + CASE WHEN v_known THEN 1 ELSE 0 END WHERE c.id = v_id;
		INSERT INTO campaign_accounts AS ca (id, account, t0, t, copies, pending) VALUES (v_id, p_account, v_now, v_now, 1, v_susp)
			ON CONFLICT (id, account) DO UPDATE SET t = excluded.t, copies = ca.copies + 1,
				pending = CASE WHEN excluded.pending = 1 THEN 1 ELSE ca.pending END;
		INSERT INTO campaign_links AS l (fkey, id, t) SELECT DISTINCT x.k, v_id, v_now FROM unnest(p_keys) AS x(k)
			ON CONFLICT (fkey) DO UPDATE SET id = CASE WHEN l.t >= v_cutoff THEN l.id ELSE excluded.id END, t = excluded.t;
		IF v_known THEN
			-- campAccounts
			SELECT array_agg(x.account ORDER BY x.t DESC, x.account COLLATE "C") INTO v_accts FROM (
				SELECT ca.account, ca.t FROM campaign_accounts ca WHERE ca.id = v_id AND ca.t >= v_cutoff
				ORDER BY ca.t DESC, ca.account COLLATE "C" LIMIT p_n[8]) x;
		END IF;
	END;
	-- campPending
	RETURN json_build_object('id', COALESCE(v_id, ''), 'known', v_known, 'new', v_new, 'accounts', v_accts,
		'pending', (SELECT json_agg(json_build_array(p.id, p.account) ORDER BY p.t, p.id COLLATE "C", p.account COLLATE "C") FROM (
			SELECT ca.id, ca.account, ca.t FROM campaign_accounts ca WHERE ca.pending = 1
			ORDER BY ca.t, ca.id COLLATE "C", ca.account COLLATE "C" LIMIT p_n[7]) p))::TEXT;
END $$;
`

// campaignArgs are og_campaign's arguments for a copy (also og_admit's
// last ones): no keys, no count.
func (s *SQLStore) campaignArgs(c *CampaignCount) []any {
	if c == nil {
		return []any{[]string{}, "", "", []string{}, "", []int64{}}
	}
	rcpts := c.Copy.Rcpts
	if rcpts == nil {
		rcpts = []string{}
	}
	return []any{c.Copy.sortedKeys(), c.Copy.Account, c.Copy.Group, rcpts, c.Copy.Subject,
		[]int64{ms(c.Copy.Time), ms(c.Copy.Time.Add(-c.Window)), int64(c.Threshold), int64(c.Copy.Bands), int64(flag(c.Copy.Suspend)),
			MaxRcpts, maxPending, CampaignAccountsMax, int64(keySenders(s.ksend))}}
}

// campaignReply decodes og_campaign's reply (NULL: a copy without keys).
func campaignReply(js sql.NullString) (CampaignResult, error) {
	var res CampaignResult
	if !js.Valid {
		return res, nil
	}
	var v struct {
		ID       string      `json:"id"`
		Known    bool        `json:"known"`
		New      bool        `json:"new"`
		Accounts []string    `json:"accounts"`
		Pending  [][2]string `json:"pending"`
	}
	if err := json.Unmarshal([]byte(js.String), &v); err != nil {
		return res, err
	}
	res.ID, res.Known, res.New, res.Accounts = v.ID, v.Known, v.New, v.Accounts
	for _, p := range v.Pending {
		res.Pending = append(res.Pending, PendingSuspension{ID: p[0], Account: p[1]})
	}
	return res, nil
}

// pgCampaignCopy is CampaignCopy on PostgreSQL: one call of og_campaign.
func (s *SQLStore) pgCampaignCopy(ctx context.Context, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	var js sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT og_campaign($1, $2, $3, $4, $5, $6)`,
		s.campaignArgs(&CampaignCount{Copy: c, Window: window, Threshold: threshold})...).Scan(&js); err != nil {
		return CampaignResult{}, err
	}
	return campaignReply(js)
}
