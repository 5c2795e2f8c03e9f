package limits

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrClockSkew: a message could not be counted because the slot of its
// minute (or hour) already holds a later bucket, an hour (a day) ahead of
// the message's time: another host sharing the store, or this one before
// a clock step back, runs at least that far ahead. The count is refused
// explicitly (limits.on_error answers; the log says which clock to fix)
// rather than admitted uncounted: a bump that skipped the newer slot
// admitted the message without counting it.
var ErrClockSkew = errors.New("clock skew between the hosts sharing the limits store (or this host's clock stepped back)")

// skewError is ErrClockSkew with the buckets that show it.
func skewError(detail string) error { return fmt.Errorf("%w: %s", ErrClockSkew, detail) }

// skewCode is the SQLSTATE og_admit raises for ErrClockSkew (a class of
// its own: PostgreSQL's are digits and letters A–Z, and none starts with
// OG).
const skewCode = "OG001"

// pgSkew turns og_admit's skew error into ErrClockSkew.
func pgSkew(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == skewCode {
		return skewError(pe.Message)
	}
	return err
}

// redisSkew turns admitScript's skew error into ErrClockSkew.
func redisSkew(err error) error {
	if err != nil {
		if d, ok := strings.CutPrefix(err.Error(), "OGSKEW "); ok {
			return skewError(d)
		}
	}
	return err
}

// recheckFunctions is PostgreSQL's schema version 11 (issue 29's late
// mail, issue 32's refused-recipient events and clock skew):
//
//   - og_admit reads the account's suspension under the account's lock
//     and counts nothing for a suspended account, returning the
//     suspension (o_susp): a message whose MAIL came before a suspension
//     made elsewhere (another host, milterctl, another signal) and whose
//     end of data comes after it is refused at end of data, not admitted
//     and left to containment's sweep. Suspend takes the same lock, so a
//     suspension is either seen by the commit or committed after the
//     message's record, which the sweep then finds.
//   - og_admit raises OG001 (ErrClockSkew) when a slot it counts in
//     holds a later bucket than the message's (the upsert's WHERE left the
//     row alone): before, it reported the message admitted uncounted.
//   - og_admit commits without waiting for the WAL's flush unless the
//     server or role sets outguard.synchronous_commit (docs/postgres.md:
//     what a server crash loses), and counters leave room for HOT updates.
//   - og_sight locks the account's sightings apart from its counters: a
//     MAIL (og_begin) waited for another message's og_admit of the same
//     account (the fleet's profile: most of a busy account's sessions'
//     time was spent waiting for that lock).
//   - og_events is AddUndeliverable and AddRefused in one call (the
//     account's lock, the inserts, the count): before, a transaction of
//     BEGIN, the lock, one INSERT per event, the count, COMMIT.
//
// The other stages' functions (og_begin, og_sight, og_usage) are version
// 8's. og_admit gains p_now (the suspension is judged at now, not at the
// message's time) and o_susp: its signature changes, so it is dropped
// and created again.
var recheckFunctions = `
-- The sightings under a lock of their own (hashtextextended's seed 1):
-- their counts stay atomic among every writer of them (og_begin at MAIL,
-- og_admit's spam verdict, Sight), and a MAIL no longer waits for the
-- account's commit of another message (og_admit takes the account's lock,
-- then this one; nothing takes them the other way round).
CREATE OR REPLACE FUNCTION og_sight(p_key TEXT, p_kind TEXT[], p_value TEXT[], p_first BIGINT[], p_last BIGINT[], p_detail TEXT[], p_from BIGINT)
RETURNS TEXT LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 1));
	FOR i IN 1 .. COALESCE(array_length(p_kind, 1), 0) LOOP
		INSERT INTO sightings AS s (key, kind, value, t0, t, detail) VALUES (p_key, p_kind[i], p_value[i], p_first[i], p_last[i], p_detail[i])
			ON CONFLICT (key, kind, value) DO UPDATE SET t = excluded.t, detail = excluded.detail WHERE excluded.t >= s.t;
	END LOOP;
	RETURN (SELECT COALESCE(json_object_agg(c.kind, c.n), '{}')::TEXT FROM (
		SELECT s.kind, COUNT(*) AS n FROM sightings s WHERE s.key = p_key AND s.t >= p_from
			AND s.t > COALESCE((SELECT a.t FROM acks a WHERE a.key = p_key), 0) GROUP BY s.kind) c);
END $$;

-- Room in each page for a counter row's next version: the slot upserts
-- update in place (HOT), without a new index entry per message.
ALTER TABLE counters SET (fillfactor = 70);

` + ogAdmit(11) + `
-- AddUndeliverable (p_refused false) and AddRefused (true): the events
-- recorded (an id already there is not counted again) and the account's
-- unacknowledged ones after p_since counted, under the account's lock.
-- Two statements each, not one with a table name: plpgsql caches each
-- plan.
CREATE OR REPLACE FUNCTION og_events(p_key TEXT, p_refused BOOLEAN, p_id TEXT[], p_t BIGINT[], p_ev TEXT[], p_since BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
	ack BIGINT;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));
	ack := GREATEST(p_since, COALESCE((SELECT a.t FROM acks a WHERE a.key = p_key), 0));
	IF p_refused THEN
		INSERT INTO refused (key, id, t, ev) SELECT p_key, e.id, e.t, e.ev FROM unnest(p_id, p_t, p_ev) AS e(id, t, ev) ON CONFLICT DO NOTHING;
		RETURN (SELECT COUNT(*) FROM refused r WHERE r.key = p_key AND r.t > ack);
	END IF;
	INSERT INTO undeliverable (key, id, t, ev) SELECT p_key, e.id, e.t, e.ev FROM unnest(p_id, p_t, p_ev) AS e(id, t, ev) ON CONFLICT DO NOTHING;
	RETURN (SELECT COUNT(*) FROM undeliverable u WHERE u.key = p_key AND u.t > ack);
END $$;
`
