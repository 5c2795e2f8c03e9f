package limits

// sightingsHOT is the rest of PostgreSQL's schema version 14 (issue 32:
// the MAIL stage's write). og_begin rewrites a login's sighting when its
// minute changes (begin.go), and that rewrite was never a HOT update: t
// was in two indexes (sightings_t for the purge, sightings_by_value
// (kind, value, t) for LoginsFrom), so each rewrite added an entry to
// all three of the table's indexes and left the old ones to vacuum.
// PostgreSQL 15 (Debian 12's) has no index on t that would leave HOT
// alone (BRIN's exemption is 16's), so t leaves the indexes:
//
//   - LoginsFrom finds an address's rows by (kind, value) and compares t
//     in them: an address is seen with a handful of accounts;
//   - the purge (every 10 minutes per host) scans the table instead of
//     the index: a sequential scan of sightings per purge, against three
//     index entries per MAIL that writes its sighting.
//
// fillfactor leaves each page room for its rows' next versions, as the
// counters' (recheck.go). SQLite (no HOT) keeps its indexes; there
// loginsIndex stays as it was, and on PostgreSQL its component (created
// once, before version 14 or after it) finds sightings_by_value there.
const sightingsHOT = `
DROP INDEX IF EXISTS sightings_t;
DROP INDEX IF EXISTS sightings_by_value;
CREATE INDEX sightings_by_value ON sightings (kind, value);
ALTER TABLE sightings SET (fillfactor = 80);
`
