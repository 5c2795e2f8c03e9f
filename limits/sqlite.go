package limits

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"outguard/internal/sqldb"
)

// schemaVersion is the limits schema's version: SQLite's PRAGMA
// user_version, a row of PostgreSQL's schema_version. Version 1 kept one
// row per message in "sent" and summed an account's day on every check;
// version 2 keeps bucket counters (the per-message rows of version 1 are
// dropped: limits restart from zero once, at the upgrade). Version 3
// adds the sightings of spread.go, version 4 the messages refused as a
// whole ("refused", the same shape as "undeliverable"), version 5 the
// campaigns across accounts (campaign.go), version 6 the complaints
// (complaint.go), version 7 the alerts' outbox (outbox.go). Version 8
// (the performance work's number) adds PostgreSQL's functions for a
// message's stages (stage.go); nothing in SQLite. Version 9 (issue 29)
// the alerts sent once per window by a fleet (once.go). Version 10 keeps
// a campaign key's groups and recipients and its accounts' pending
// suspensions (campaign.go). Version 11 (issue 29 and 32's stages)
// replaces og_admit (the suspension read under the account's lock, clock
// skew refused) and adds og_events (recheck.go); nothing in SQLite.
// Version 13 (issue 32: the MAIL stage on a fleet) replaces og_begin
// (begin.go); nothing in SQLite. Version 14 (issue 32: every store one
// round trip per stage) counts a message's campaign copy in og_admit
// (campaignpg.go); nothing in SQLite. Version 15 (issue 28) keeps the
// fleet's campaign seed (campaignseed.go). Version 16 (issue 28) bounds
// a campaign key's senders (campaigncap.go). Version 17 (issue 28)
// replaces og_campaign: its reach matches recipient sets
// (campaignsets.go); nothing in SQLite, whose reach is Go's. Version 18
// (issue 28) keeps an account's lowest recipient tokens of a key, not
// its first (mergeRcpts): PostgreSQL's og_merge_rcpts replaced; nothing
// in SQLite, whose merge is Go's. Version 19 (issue 28) replaces
// og_campaign: its reach drops the core recipients, those every sender
// reached, before it matches the sets (campaignsets.go); nothing
// in SQLite, whose reach is Go's. Version 20 (issue 28) records when an
// account's list of a key began (campaign_keys.t0): a list begun more
// than a window before a copy starts again (campaignT0Schema), and
// og_campaign is replaced.
const schemaVersion = 20

// refusedSchema is version 4 on both databases.
const refusedSchema = `
CREATE TABLE IF NOT EXISTS refused (key TEXT NOT NULL, id TEXT NOT NULL, t BIGINT NOT NULL, ev TEXT NOT NULL, PRIMARY KEY (key, id));
CREATE INDEX IF NOT EXISTS refused_t ON refused (key, t);
`

const sqliteSchema = `
DROP TABLE IF EXISTS sent;
CREATE TABLE IF NOT EXISTS counters (key TEXT NOT NULL, slot INTEGER NOT NULL, b INTEGER NOT NULL, msgs INTEGER NOT NULL, rcpts INTEGER NOT NULL, PRIMARY KEY (key, slot)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS msgs (host TEXT NOT NULL, qid TEXT NOT NULL, key TEXT NOT NULL, t INTEGER NOT NULL, rcpts TEXT NOT NULL, PRIMARY KEY (host, qid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS msgs_t ON msgs (t);
CREATE TABLE IF NOT EXISTS delivered (host TEXT NOT NULL, qid TEXT NOT NULL, rcpt TEXT NOT NULL, t INTEGER NOT NULL, PRIMARY KEY (host, qid, rcpt)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_t ON delivered (t);
CREATE TABLE IF NOT EXISTS undeliverable (key TEXT NOT NULL, id TEXT NOT NULL, t INTEGER NOT NULL, ev TEXT NOT NULL, PRIMARY KEY (key, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS undeliverable_t ON undeliverable (key, t);
CREATE TABLE IF NOT EXISTS suspended (key TEXT PRIMARY KEY, until INTEGER NOT NULL, s TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (key TEXT PRIMARY KEY, t INTEGER NOT NULL);
`

// OpenSQLite opens (creating if needed) the embedded store at path,
// waiting for another process opening it at once as for a lock
// (busy_timeout: sqldb.OpenBusy).
func OpenSQLite(path string) (*SQLStore, error) {
	return sqldb.OpenBusy(10*time.Second, func() (*SQLStore, error) { return openSQLite(path) })
}

func openSQLite(path string) (*SQLStore, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// One connection: writes are serialised in-process, and IMMEDIATE
	// transactions serialise them against milterctl.
	db.SetMaxOpenConns(1)
	s, err := openSQL(context.Background(), db, sqldb.SQLite, map[int]string{2: sqliteSchema, 3: sightingsSchema, 4: refusedSchema, 5: campaignSchema, 6: complaintsSchema, 7: outboxSchema, 9: onceSchema, 10: campaignReachSchema, 15: campaignSeedSchema, 16: campaignCapSchema, 20: campaignT0Schema})
	if err == nil {
		_, err = db.Exec(auditSchema + loginsIndex + spareSchema)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}
