package limits

// beginFunctions is PostgreSQL's schema version 13 (issue 32: the MAIL
// stage's cost on a fleet). The fleet's profile (bench/fleet -profile)
// showed og_begin rewriting every one of the login's sighting rows on
// every MAIL (~940 B of WAL each: a new row version and an entry in each
// of the table's three indexes, t being indexed), under the sightings'
// advisory lock, so that a busy account's MAILs queued behind each other
// and behind the WAL.
//
// og_begin now writes a sighting only when what it counts changes:
//
//   - a new value (a network, a country, an AS not seen before);
//   - a later minute than the one stored: og_sight's windows start on a
//     minute (p_from is windowStart's minute), so a last-seen time kept to
//     its minute counts exactly as the exact time would;
//   - a stored time at or before the account's acknowledgement (acks): the
//     value counts again only once it is written after it;
//   - another detail (the address the value was last seen from).
//
// A MAIL that changes nothing takes no lock and writes nothing: it reads
// the counts as committed (a concurrent writer's new value is counted by
// that writer, under the lock, so a crossing of a threshold is still seen
// by the call that made it). A MAIL that changes something takes the
// sightings' lock (og_sight's, seed 1) and upserts all of them in one
// statement, whose WHERE leaves unchanged rows alone. The counts stay
// og_sight's; the limits' exactness is og_admit's at end-of-message (the
// usage returned here is advisory, as it always was). Sightings written
// by og_admit (spam verdicts) and Sight still go through og_sight.
//
// The last-seen time a sighting shows (milterctl, the console) may be up
// to a minute older than the last MAIL that saw it.
const beginFunctions = `
CREATE OR REPLACE FUNCTION og_begin(p_key TEXT, p_fm BIGINT, p_fh BIGINT,
	p_kind TEXT[], p_value TEXT[], p_first BIGINT[], p_last BIGINT[], p_detail TEXT[], p_from BIGINT,
	OUT o_mh BIGINT, OUT o_md BIGINT, OUT o_rh BIGINT, OUT o_rd BIGINT, OUT o_om BIGINT, OUT o_oh BIGINT, OUT o_susp TEXT, OUT o_counts TEXT)
LANGUAGE plpgsql AS $$
DECLARE
	ack BIGINT;
BEGIN
	IF COALESCE(array_length(p_kind, 1), 0) > 0 THEN
		ack := COALESCE((SELECT a.t FROM acks a WHERE a.key = p_key), 0);
		IF EXISTS (SELECT 1 FROM unnest(p_kind, p_value, p_last, p_detail) AS x(kind, value, t, detail)
			WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE s.key = p_key AND s.kind = x.kind AND s.value = x.value
				AND s.t / 60000 >= x.t / 60000 AND s.t > ack AND s.detail = x.detail)) THEN
			-- As og_sight: the sightings do not wait for the WAL's flush
			-- (a server crash may lose the last fraction of a second of
			-- them, which at worst suspends an account one login later).
			PERFORM set_config('synchronous_commit', 'off', true);
			PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 1));
			ack := COALESCE((SELECT a.t FROM acks a WHERE a.key = p_key), 0);
			INSERT INTO sightings AS s (key, kind, value, t0, t, detail)
				SELECT DISTINCT ON (x.kind, x.value) p_key, x.kind, x.value, x.t0, x.t, x.detail
				FROM unnest(p_kind, p_value, p_first, p_last, p_detail) AS x(kind, value, t0, t, detail) ORDER BY x.kind, x.value, x.t DESC
				ON CONFLICT (key, kind, value) DO UPDATE SET t = excluded.t, detail = excluded.detail
				WHERE excluded.t >= s.t AND (excluded.t / 60000 > s.t / 60000 OR s.t <= ack OR s.detail <> excluded.detail);
		END IF;
		o_counts := (SELECT COALESCE(json_object_agg(c.kind, c.n), '{}')::TEXT FROM (
			SELECT s.kind, COUNT(*) AS n FROM sightings s WHERE s.key = p_key AND s.t >= p_from AND s.t > ack GROUP BY s.kind) c);
	END IF;
	SELECT * INTO o_mh, o_md, o_rh, o_rd, o_om, o_oh FROM og_usage(p_key, p_fm, p_fh);
	SELECT s.s INTO o_susp FROM suspended s WHERE s.key = p_key;
END $$;
`
