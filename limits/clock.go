package limits

// clockFunctions is the rest of PostgreSQL's schema version 13 (issue
// 32's clock skew): the counters' slots judged by the store's clock.
//
// A slot of the minute ring (or the hour ring) holds one bucket at a
// time; a message whose bucket is later than the slot's starts it afresh
// (og_admit's upsert). A host whose clock runs an hour ahead (a day, for
// the hours) finds in its minute's slot the bucket the other hosts are
// counting in right now, exactly a ring older than its own, and started
// it afresh: their counts were erased without a word, and both sides
// admitted a whole limit in the same real hour. The buckets alone cannot
// tell this from an account idle for an hour; the store's clock can.
//
// So a slot rolls to a later bucket only if, by the store's clock
// (clock_timestamp()) give or take outguard.max_clock_skew seconds, the
// bucket it holds no longer counts, and the bucket it rolls to still
// does (a host more than a window behind would count into a bucket
// nobody reads). Otherwise the roll raises OG001, which og_admit's
// caller returns as ErrClockSkew (limits.on_error answers, the log names
// the clocks): nothing is written. The check is a trigger, not a change
// to og_admit: it holds for every writer of the counters and costs
// nothing but on a roll (the WHEN), once a minute and once an hour per
// account at most.
//
// outguard.max_clock_skew: seconds (default 120), 0 turns the check off
// (for a simulation whose day runs faster than the store's clock, as
// bench/fleet's). A site sets it with ALTER ROLE or ALTER DATABASE ... SET,
// or in the DSN. The first use of a slot (an INSERT) is not judged: it
// erases nothing.
const clockFunctions = `
CREATE OR REPLACE FUNCTION og_counters_roll() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	tol DOUBLE PRECISION := COALESCE(NULLIF(current_setting('outguard.max_clock_skew', true), ''), '120')::DOUBLE PRECISION;
	now_s DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
	len INTEGER := 60;
	ring INTEGER := 60;
BEGIN
	IF tol <= 0 THEN
		RETURN NEW;
	END IF;
	IF NEW.slot >= 100 THEN
		len := 3600;
		ring := 24;
	END IF;
	-- A bucket b counts at time T while b >= floor(T / len) - ring + 1.
	IF OLD.b >= floor((now_s + tol) / len) - ring + 1 OR NEW.b < floor((now_s - tol) / len) - ring + 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'OG001', MESSAGE = format(
			'account %s: slot %s would roll from bucket %s to %s (of %s s) at the store''s time %s: this host''s clock is off the store''s by more than outguard.max_clock_skew (%s s)',
			NEW.key, NEW.slot, OLD.b, NEW.b, len, to_timestamp(now_s), tol);
	END IF;
	RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS og_counters_roll ON counters;
CREATE TRIGGER og_counters_roll BEFORE UPDATE ON counters FOR EACH ROW WHEN (NEW.b > OLD.b) EXECUTE FUNCTION og_counters_roll();
`
