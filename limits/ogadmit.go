package limits

import "strings"

// ogAdmit is og_admit (CommitMessage on PostgreSQL) as schema version v
// defines it: each version's migration takes its whole definition from
// here, so og_admit is written once, its changes marked by the version
// that made them, and a version that changes it adds its parts here.
// Version 8 created it; 11 (recheck.go) added p_now and o_susp (the
// suspension read under the account's lock), the commit without waiting
// for the WAL, and the clock skew error. A version that changes its
// arguments drops the previous signature first (ogAdmitArgs).
func ogAdmit(v int) string {
	var b strings.Builder
	at := func(from int, s string) {
		if v >= from {
			b.WriteString(s)
		}
	}
	either := func(from int, before, after string) {
		if v >= from {
			b.WriteString(after)
		} else {
			b.WriteString(before)
		}
	}
	// The signature it replaces: 11's replaced 8's, 14's 11's.
	either(14, "", "DROP FUNCTION IF EXISTS og_admit("+ogAdmitArgs(11)+");\n\n")
	if v >= 11 && v < 14 {
		b.WriteString("DROP FUNCTION IF EXISTS og_admit(" + ogAdmitArgs(8) + ");\n\n")
	}
	b.WriteString("-- p_lim: messages per hour, per day, recipients per hour, per day (0: none).\n")
	either(11, "CREATE OR REPLACE FUNCTION", "CREATE FUNCTION")
	b.WriteString(` og_admit(p_key TEXT, p_fm BIGINT, p_fh BIGINT, p_lim BIGINT[], p_rcpts BIGINT,
	p_mslot INTEGER, p_minute BIGINT, p_hslot INTEGER, p_hour BIGINT, p_host TEXT, p_qid TEXT, p_t BIGINT, p_rcptlist TEXT,
	p_kind TEXT[], p_value TEXT[], p_first BIGINT[], p_last BIGINT[], p_detail TEXT[], p_from BIGINT,`)
	at(11, " p_now BIGINT,")
	at(14, "\n\tp_ckeys TEXT[], p_caccount TEXT, p_cgroup TEXT, p_crcpts TEXT[], p_csubject TEXT, p_cn BIGINT[],")
	b.WriteString("\n\tOUT o_mh BIGINT, OUT o_md BIGINT, OUT o_rh BIGINT, OUT o_rd BIGINT, OUT o_om BIGINT, OUT o_oh BIGINT, OUT o_ok BOOLEAN, OUT o_counts TEXT")
	at(11, ", OUT o_susp TEXT")
	at(14, ", OUT o_campaign TEXT")
	b.WriteString(")\nLANGUAGE plpgsql AS $$\n")
	at(11, "DECLARE\n\tn INTEGER;\n")
	b.WriteString("BEGIN\n")
	either(11, `	-- Until the transaction ends: the read below sees every other host's
	-- committed count, and none can count between it and the write.
`, `	-- Until the transaction ends: the reads below see every other host's
	-- committed count and suspension, and none can count or suspend
	-- between them and the write.
`)
	b.WriteString("\tPERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));\n")
	at(11, `	-- The commit does not wait for the WAL's flush (docs/postgres.md,
	-- "Durability"): the account's lock is held until the commit, so a
	-- flush per message serialised a busy account's messages on the disk.
	-- A site sets outguard.synchronous_commit to on to wait.
	PERFORM set_config('synchronous_commit', COALESCE(NULLIF(current_setting('outguard.synchronous_commit', true), ''), 'off'), true);
`)
	b.WriteString(`	IF COALESCE(array_length(p_kind, 1), 0) > 0 THEN
		o_counts := og_sight(p_key, p_kind, p_value, p_first, p_last, p_detail, p_from);
	END IF;
	SELECT * INTO o_mh, o_md, o_rh, o_rd, o_om, o_oh FROM og_usage(p_key, p_fm, p_fh);
`)
	at(11, `	o_ok := false;
	SELECT s.s INTO o_susp FROM suspended s WHERE s.key = p_key AND (s.until = 0 OR s.until > p_now);
	IF o_susp IS NOT NULL THEN
		RETURN;
	END IF;
`)
	b.WriteString(`	o_ok := NOT (p_lim[1] > 0 AND o_mh + 1 > p_lim[1] OR p_lim[2] > 0 AND o_md + 1 > p_lim[2]
		OR p_lim[3] > 0 AND o_rh + p_rcpts > p_lim[3] OR p_lim[4] > 0 AND o_rd + p_rcpts > p_lim[4]);
	IF NOT o_ok THEN
		RETURN;
	END IF;
	INSERT INTO counters AS c (key, slot, b, msgs, rcpts) VALUES (p_key, p_mslot, p_minute, 1, p_rcpts), (p_key, p_hslot, p_hour, 1, p_rcpts)
		ON CONFLICT (key, slot) DO UPDATE SET
			msgs = CASE WHEN c.b = excluded.b THEN c.msgs + 1 ELSE 1 END,
			rcpts = CASE WHEN c.b = excluded.b THEN c.rcpts + excluded.rcpts ELSE excluded.rcpts END,
			b = excluded.b
		WHERE excluded.b >= c.b;
`)
	at(11, `	GET DIAGNOSTICS n = ROW_COUNT;
	IF n < 2 THEN
		RAISE EXCEPTION USING ERRCODE = 'OG001', MESSAGE = format('account %s: minute %s and hour %s: a slot holds a later bucket (%s)', p_key, p_minute, p_hour,
			(SELECT string_agg(c.slot || '=' || c.b, ' ') FROM counters c WHERE c.key = p_key AND c.slot IN (p_mslot, p_hslot)));
	END IF;
`)
	b.WriteString(`	IF p_qid <> '' THEN
		INSERT INTO msgs AS m (host, qid, key, t, rcpts) VALUES (p_host, p_qid, p_key, p_t, p_rcptlist)
			ON CONFLICT (host, qid) DO UPDATE SET key = excluded.key, t = excluded.t, rcpts = excluded.rcpts;
	END IF;
`)
	at(14, `	-- The message's campaign copy: counted only with an admitted
	-- message (a refused one returned above).
	IF COALESCE(cardinality(p_ckeys), 0) > 0 THEN
		o_campaign := og_campaign(p_ckeys, p_caccount, p_cgroup, p_crcpts, p_csubject, p_cn);
	END IF;
`)
	b.WriteString("END $$;\n")
	return b.String()
}

// ogAdmitArgs is og_admit's argument types as of version v, for DROP
// FUNCTION.
func ogAdmitArgs(v int) string {
	args := `TEXT, BIGINT, BIGINT, BIGINT[], BIGINT, INTEGER, BIGINT, INTEGER, BIGINT, TEXT, TEXT, BIGINT, TEXT,
	TEXT[], TEXT[], BIGINT[], BIGINT[], TEXT[], BIGINT`
	if v >= 11 {
		args += ", BIGINT"
	}
	if v >= 14 {
		args += ", TEXT[], TEXT, TEXT, TEXT[], TEXT, BIGINT[]"
	}
	return args
}
