package limits

import (
	"context"
	"fmt"

	"outguard/internal/sqldb"
)

// postgresMigrations[v] brings the limits schema from version v-1 to v.
// Version 1 was SQLite-only, so PostgreSQL starts at 2.
var postgresMigrations = map[int]string{
	2: `
CREATE TABLE IF NOT EXISTS counters (key TEXT NOT NULL, slot INTEGER NOT NULL, b BIGINT NOT NULL, msgs BIGINT NOT NULL, rcpts BIGINT NOT NULL, PRIMARY KEY (key, slot));
CREATE TABLE IF NOT EXISTS msgs (host TEXT NOT NULL, qid TEXT NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL, rcpts TEXT NOT NULL, PRIMARY KEY (host, qid));
CREATE INDEX IF NOT EXISTS msgs_t ON msgs (t);
CREATE TABLE IF NOT EXISTS delivered (host TEXT NOT NULL, qid TEXT NOT NULL, rcpt TEXT NOT NULL, t BIGINT NOT NULL, PRIMARY KEY (host, qid, rcpt));
CREATE INDEX IF NOT EXISTS delivered_t ON delivered (t);
CREATE TABLE IF NOT EXISTS undeliverable (key TEXT NOT NULL, id TEXT NOT NULL, t BIGINT NOT NULL, ev TEXT NOT NULL, PRIMARY KEY (key, id));
CREATE INDEX IF NOT EXISTS undeliverable_t ON undeliverable (key, t);
CREATE TABLE IF NOT EXISTS suspended (key TEXT PRIMARY KEY, until BIGINT NOT NULL, s TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (key TEXT PRIMARY KEY, t BIGINT NOT NULL);
`,
	3:  sightingsSchema,
	4:  refusedSchema,
	5:  campaignSchema,
	6:  complaintsSchema,
	7:  outboxSchema,
	8:  stageFunctions,
	9:  onceSchema,
	10: campaignReachSchema,
	11: recheckFunctions,
	13: beginFunctions + clockFunctions,
	14: campaignFunctions + ogAdmit(14) + sightingsHOT,
	15: campaignSeedSchema,
	16: campaignCapSchema + ogCampaignCap(),
	17: ogCampaignSets(),
	18: ogMergeLowest(),
	19: ogCampaignCore(),
	20: ogCampaignT0(),
}

// OpenPostgres connects to the PostgreSQL of dsn (a libpq key=value string
// or a postgres:// URL), creating or upgrading the schema.
func OpenPostgres(ctx context.Context, dsn string) (*SQLStore, error) {
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// An account's check and count hold a transaction-scoped advisory lock
	// on the account (sqldb.Postgres.LockKey): two smarthosts admitting the
	// same account wait for each other, other accounts do not.
	s, err := openSQL(ctx, db, sqldb.Postgres, postgresMigrations)
	if err == nil {
		err = sqldb.Postgres.Migrate(ctx, db, "limits_audit", 1, map[int]string{1: auditSchema})
	}
	if err == nil {
		err = sqldb.Postgres.Migrate(ctx, db, "limits_logins", 1, map[int]string{1: loginsIndex})
	}
	if err == nil {
		err = sqldb.Postgres.Migrate(ctx, db, "limits_spare", 1, map[int]string{1: spareSchema})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
