package limits

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

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

// OgCampaignVersion17 restores og_campaign of schemas 17 and 18 (CREATE
// OR REPLACE): the store before version 19.
var OgCampaignVersion17 = ogCampaignSets()

// campaignScriptV18 is campaignScript as a milterd of schema 18 runs
// it: reach without the core dropped.
var campaignScriptV18 = campaignScriptOf(campaignReachSets, `  local sets, of, order = {}, {}, {}
  for _, rs in pairs(groups) do
    local set = {}
    for r in pairs(rs) do set[#set+1] = r end
    table.sort(set)
    local name = table.concat(set, ' ')
    if not sets[name] then sets[name] = set; of[name] = 0; order[#order+1] = name end
    of[name] = of[name] + 1
  end`)

// campaignScriptOf is campaignScript with each of campaignLua's pieces
// in oldnew (piece, then what stood there before) swapped for the old.
func campaignScriptOf(oldnew ...string) *redis.Script {
	for i := 0; i < len(oldnew); i += 2 {
		if strings.Count(campaignLua, oldnew[i]) != 1 {
			panic("limits: a piece of campaignLua does not stand once in it: " + oldnew[i])
		}
	}
	return redis.NewScript("local dry = false\n" + strings.NewReplacer(oldnew...).Replace(campaignLua))
}

// CampaignCopyV18 counts c on the Redis store st as a milterd of schema
// 18 does (campaignScriptV18): the same keys and arguments as
// CampaignCopy, the rule of 18.
var CampaignCopyV18 = copyWithScript(campaignScriptV18)

// copyWithScript is CampaignCopy on a Redis store st with script s in
// campaignScript's place.
func copyWithScript(s *redis.Script) func(ctx context.Context, st Store, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
	return func(ctx context.Context, st Store, c CampaignCopy, window time.Duration, threshold int) (CampaignResult, error) {
		return st.(*Redis).campaignCopyBy(ctx, s, c, window, threshold)
	}
}

// OgCampaignVersion19 restores og_campaign of schema 19 (CREATE OR
// REPLACE): the store before version 20, whose lists never restart.
var OgCampaignVersion19 = ogCampaignCore()

// campaignScriptV19 is campaignScript as a milterd of schema 19 runs it:
// an account's list merged while it sends within the window, no t0 read
// or written (campaignLua of 20 with its t0 taken out).
var campaignScriptV19 = campaignScriptOf(
	campaignT0Began, `  if last >= cutoff then`,
	campaignT0Restart, `  end`,
	campaignT0Gone, `gone`,
	campaignT0Set, ``,
	campaignT0Over, `  for j = 1, #over, 1000 do redis.call('HDEL', cr, unpack(over, j, math.min(j + 999, #over))) end`)

// CampaignCopyV19 counts c on the Redis store st as a milterd of schema
// 19 does (campaignScriptV19).
var CampaignCopyV19 = copyWithScript(campaignScriptV19)
