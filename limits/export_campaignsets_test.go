package limits

import (
	"context"
	"fmt"
	"strings"

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

// OgMergeRcptsVersion14 restores og_merge_rcpts of schema 14 to 17 (the
// first MaxRcpts kept; CREATE OR REPLACE), the store before version 18.
var OgMergeRcptsVersion14 = func() string {
	i := strings.Index(campaignFunctions, "CREATE FUNCTION og_merge_rcpts(")
	n := strings.Index(campaignFunctions[i:], "END $$;\n")
	return "CREATE OR REPLACE" + strings.TrimPrefix(campaignFunctions[i:i+n+len("END $$;\n")], "CREATE")
}()

// RecordedRcpts are the recipients st keeps of account with campaign key
// key, as stored (the stores keep them sorted).
func RecordedRcpts(ctx context.Context, st Store, key, account string) ([]string, error) {
	var list string
	switch s := st.(type) {
	case *SQLStore:
		if err := s.db.QueryRowContext(ctx, `SELECT rcpts FROM campaign_keys WHERE fkey = $1 AND account = $2`, key, account).Scan(&list); err != nil {
			return nil, err
		}
	case *Redis:
		v, err := s.c.HGet(ctx, campPrefix+"cr:"+key, account).Result()
		if err != nil {
			return nil, err
		}
		_, list, _ = strings.Cut(v, "|")
	default:
		return nil, fmt.Errorf("store %T", st)
	}
	return strings.Fields(list), nil
}
