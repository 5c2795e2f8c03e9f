package limits

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"
)

// A message costs each store one round trip per stage that needs one: at
// MAIL, BeginMessage (the account's usage and suspension, and the login's
// sightings recorded and counted); at end-of-message, CommitMessage (the
// limits checked and the message counted, and a spam verdict recorded and
// counted). RCPT needs none (but for a recipient the MTA refused, whose
// event is counted as it comes: AddUndeliverable, AddRefused). An account
// named by a trusted relay's header is known only at end-of-message, which
// then takes both calls. On PostgreSQL each is one call of a function
// the migration creates (og_begin, og_admit, below), on Redis one script
// (beginScript, admitScript), on SQLite one IMMEDIATE transaction in
// process. The account's lock (the advisory lock, the script, SQLite's
// write lock) covers the whole call, so a count and its comparison stay
// atomic across every host sharing the store (on PostgreSQL, since
// schema 11, the sightings have an advisory lock of their own, taken
// after the account's: recheck.go).
//
// A new per-account counter joins these calls; it does not add a call
// beside them:
//   - its values travel with the stage's arguments (as the sightings do:
//     Sighting values of a new Signal need no change at all; a counter of
//     another shape adds its own arrays of arguments);
//   - PostgreSQL: a new schema version replaces og_begin or og_admit
//     (DROP FUNCTION, then CREATE: the arguments change; og_admit's
//     parts for the version in ogAdmit, ogadmit.go) with the counter's
//     statements after the pg_advisory_xact_lock, its count in the
//     returned row (og_sight's counts are a JSON object, so a new signal
//     is a new key there, not a new column);
//   - Redis: its Lua as a function (as sightLua) called from beginScript
//     or admitScript, its keys appended to KEYS, its count to the reply;
//   - SQLite: its statements in the stage's transaction (BeginMessage,
//     CommitMessage below);
//   - TestTwoHostsCrossOnce and TestEightClientsAtLimit get its case.

// stageFunctions is PostgreSQL's schema version 8: the stages as
// functions. SECURITY INVOKER (the default): a caller needs the same row
// rights on the tables as the statements had (docs/postgres.md), EXECUTE
// being PUBLIC's, so a role without INSERT on counters cannot count
// through og_admit either (ogadmit.go). The usage sums are usageQuery's; the slot
// upsert bumpQuery's; the record recordQuery's.
var stageFunctions = `
CREATE OR REPLACE FUNCTION og_sight(p_key TEXT, p_kind TEXT[], p_value TEXT[], p_first BIGINT[], p_last BIGINT[], p_detail TEXT[], p_from BIGINT)
RETURNS TEXT LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));
	FOR i IN 1 .. COALESCE(array_length(p_kind, 1), 0) LOOP
		INSERT INTO sightings AS s (key, kind, value, t0, t, detail) VALUES (p_key, p_kind[i], p_value[i], p_first[i], p_last[i], p_detail[i])
			ON CONFLICT (key, kind, value) DO UPDATE SET t = excluded.t, detail = excluded.detail WHERE excluded.t >= s.t;
	END LOOP;
	RETURN (SELECT COALESCE(json_object_agg(c.kind, c.n), '{}')::TEXT FROM (
		SELECT s.kind, COUNT(*) AS n FROM sightings s WHERE s.key = p_key AND s.t >= p_from
			AND s.t > COALESCE((SELECT a.t FROM acks a WHERE a.key = p_key), 0) GROUP BY s.kind) c);
END $$;

-- plpgsql, not sql: its plan is cached for the session.
CREATE OR REPLACE FUNCTION og_usage(p_key TEXT, p_fm BIGINT, p_fh BIGINT,
	OUT o_mh BIGINT, OUT o_md BIGINT, OUT o_rh BIGINT, OUT o_rd BIGINT, OUT o_om BIGINT, OUT o_oh BIGINT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	SELECT COALESCE(SUM(CASE WHEN c.slot < 100 AND c.b >= p_fm THEN c.msgs END), 0)::BIGINT, COALESCE(SUM(CASE WHEN c.slot >= 100 AND c.b >= p_fh THEN c.msgs END), 0)::BIGINT,
		COALESCE(SUM(CASE WHEN c.slot < 100 AND c.b >= p_fm THEN c.rcpts END), 0)::BIGINT, COALESCE(SUM(CASE WHEN c.slot >= 100 AND c.b >= p_fh THEN c.rcpts END), 0)::BIGINT,
		COALESCE(MIN(CASE WHEN c.slot < 100 AND c.b >= p_fm THEN c.b END), 0), COALESCE(MIN(CASE WHEN c.slot >= 100 AND c.b >= p_fh THEN c.b END), 0)
	INTO o_mh, o_md, o_rh, o_rd, o_om, o_oh
	FROM counters c WHERE c.key = p_key;
END $$;

CREATE OR REPLACE FUNCTION og_begin(p_key TEXT, p_fm BIGINT, p_fh BIGINT,
	p_kind TEXT[], p_value TEXT[], p_first BIGINT[], p_last BIGINT[], p_detail TEXT[], p_from BIGINT,
	OUT o_mh BIGINT, OUT o_md BIGINT, OUT o_rh BIGINT, OUT o_rd BIGINT, OUT o_om BIGINT, OUT o_oh BIGINT, OUT o_susp TEXT, OUT o_counts TEXT)
LANGUAGE plpgsql AS $$
BEGIN
	IF COALESCE(array_length(p_kind, 1), 0) > 0 THEN
		-- The login's sightings do not wait for the WAL's flush: a server
		-- crash may lose the last fraction of a second of them (wal_writer_delay),
		-- which at worst suspends an account one login later. The count of
		-- messages (og_admit) keeps the server's setting.
		PERFORM set_config('synchronous_commit', 'off', true);
		o_counts := og_sight(p_key, p_kind, p_value, p_first, p_last, p_detail, p_from);
	END IF;
	SELECT * INTO o_mh, o_md, o_rh, o_rd, o_om, o_oh FROM og_usage(p_key, p_fm, p_fh);
	SELECT s.s INTO o_susp FROM suspended s WHERE s.key = p_key;
END $$;

` + ogAdmit(8)

// sightArrays are og_sight's arguments for ss: kinds, values, first and
// last seen (ms), details, and the window's first instant (ms).
func sightArrays(ss []Sighting, now time.Time) []any {
	kinds, values, details := make([]string, len(ss)), make([]string, len(ss)), make([]string, len(ss))
	first, last := make([]int64, len(ss)), make([]int64, len(ss))
	for i, x := range ss {
		kinds[i], values[i], first[i], last[i], details[i] = x.Signal, x.Value, ms(x.First), ms(x.Last), x.Detail
	}
	fm, _ := windowStart(now)
	return []any{kinds, values, first, last, details, fm * 60000}
}

// counts decodes og_sight's JSON object of counts (NULL: no sightings).
func counts(js sql.NullString) (map[string]int, error) {
	if !js.Valid {
		return nil, nil
	}
	n := map[string]int{}
	return n, json.Unmarshal([]byte(js.String), &n)
}

func (s *SQLStore) pgSight(ctx context.Context, key string, ss []Sighting, now time.Time) (map[string]int, error) {
	var js sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT og_sight($1, $2, $3, $4, $5, $6, $7)`, append([]any{key}, sightArrays(ss, now)...)...).Scan(&js); err != nil {
		return nil, err
	}
	return counts(js)
}

// BeginMessage is og_begin on PostgreSQL; on SQLite the state query, in a
// transaction with the sightings when there are any.
func (s *SQLStore) BeginMessage(ctx context.Context, key string, ss []Sighting, now time.Time) (Usage, *Suspension, map[string]int, error) {
	fm, fh := windowStart(now)
	var n [6]int64
	var susp, cjs sql.NullString
	dst := []any{&n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &susp}
	var err error
	switch {
	case s.server:
		err = s.db.QueryRowContext(ctx, `SELECT * FROM og_begin($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			append([]any{key, fm, fh}, sightArrays(ss, now)...)...).Scan(append(dst, &cjs)...)
	case len(ss) == 0:
		err = s.state.QueryRowContext(ctx, key, fm, fh).Scan(dst...)
	default:
		var c map[string]int
		err = s.inTx(ctx, key, func(tx *sql.Tx) error {
			var err error
			if c, err = s.sight(ctx, tx, key, ss, now); err != nil {
				return err
			}
			return tx.StmtContext(ctx, s.state).QueryRowContext(ctx, key, fm, fh).Scan(dst...)
		})
		if err != nil {
			return Usage{}, nil, nil, err
		}
		sp, err := suspension(susp)
		return usageFrom(n[0], n[1], n[2], n[3], n[4], n[5]), sp, c, err
	}
	if err != nil {
		return Usage{}, nil, nil, err
	}
	sp, err := suspension(susp)
	if err != nil {
		return Usage{}, nil, nil, err
	}
	c, err := counts(cjs)
	return usageFrom(n[0], n[1], n[2], n[3], n[4], n[5]), sp, c, err
}

// CommitMessage is og_admit on PostgreSQL; on SQLite one transaction of
// the sightings and admit. Both count an admitted message's campaign
// copy (m.Campaign) in the same call (campaignfold.go). An account
// suspended at now (read under the account's lock, as the count) gets
// its suspension and nothing counted.
func (s *SQLStore) CommitMessage(ctx context.Context, key string, m Sent, lim Limits, ss []Sighting, now time.Time) (Usage, bool, *Suspension, map[string]int, error) {
	if !s.server {
		var u Usage
		var ok bool
		var susp *Suspension
		var c map[string]int
		err := s.inTx(ctx, key, func(tx *sql.Tx) error {
			var err error
			if len(ss) > 0 {
				if c, err = s.sight(ctx, tx, key, ss, now); err != nil {
					return err
				}
			}
			u, ok, susp, err = s.admit(ctx, tx, key, m, lim, now)
			if err == nil && m.Campaign != nil {
				err = s.campaignCommit(ctx, tx, m.Campaign, ok)
			}
			return err
		})
		if m.Campaign != nil {
			m.Campaign.Done = err == nil
			if err != nil {
				m.Campaign.Result = CampaignResult{}
			}
		}
		return u, ok, susp, c, err
	}
	fm, fh := windowStart(now)
	minute, hour := m.Time.Unix()/60, m.Time.Unix()/3600
	var n [6]int64
	var ok bool
	var cjs, sjs, campjs sql.NullString
	args := append([]any{key, fm, fh,
		[]int64{int64(lim.MessagesPerHour), int64(lim.MessagesPerDay), int64(lim.RecipientsPerHour), int64(lim.RecipientsPerDay)}, len(m.Rcpts),
		minute % hourBuckets, minute, hourSlots + hour%dayBuckets, hour, m.Host, m.QueueID, ms(m.Time), strings.Join(m.Rcpts, "\n")},
		sightArrays(ss, now)...)
	args = append(append(args, ms(now)), s.campaignArgs(m.Campaign)...)
	err := s.db.QueryRowContext(ctx, `SELECT * FROM og_admit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26)`, args...).Scan(&n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &ok, &cjs, &sjs, &campjs)
	if err != nil {
		return Usage{}, false, nil, nil, pgSkew(err)
	}
	if m.Campaign != nil {
		if m.Campaign.Result, err = campaignReply(campjs); err != nil {
			return Usage{}, false, nil, nil, err
		}
		m.Campaign.Done = true
	}
	susp, err := suspension(sjs)
	if err != nil {
		return Usage{}, false, nil, nil, err
	}
	c, err := counts(cjs)
	return usageFrom(n[0], n[1], n[2], n[3], n[4], n[5]), ok, susp, c, err
}

// inTx runs f in a transaction under key's lock (locked) and commits it.
func (s *SQLStore) inTx(ctx context.Context, key string, f func(*sql.Tx) error) error {
	tx, err := s.locked(ctx, key)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
