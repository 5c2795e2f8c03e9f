package limits

import (
	"context"
	"fmt"

	"outguard/internal/sqldb"
)

// Reach is reach of the senders "s0"… whose recorded recipients are
// rcpts[i], each its own group.
func Reach(rcpts [][]string, threshold int) bool {
	var ss []reachOf
	for i, rs := range rcpts {
		s := reachOf{account: fmt.Sprint("s", i), rcpts: map[string]bool{}}
		for _, r := range rs {
			s.rcpts[r] = true
		}
		ss = append(ss, s)
	}
	return reach(ss, threshold)
}

// OgCampaignVersion16 restores og_campaign of schema 16 (CREATE OR
// REPLACE), the store a milterd of version 16 left.
var OgCampaignVersion16 = ogCampaignCap()

// OpenPostgresAt opens the PostgreSQL of dsn as a milterd of schema
// version v does: the schema brought to v (postgresMigrations up to it),
// no further; it refuses a newer one.
func OpenPostgresAt(ctx context.Context, dsn string, v int) (Store, error) {
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		return nil, err
	}
	if err := sqldb.Postgres.Migrate(ctx, db, "limits", v, postgresMigrations); err != nil {
		db.Close()
		return nil, err
	}
	return &SQLStore{db: db, d: sqldb.Postgres, server: true}, nil
}
