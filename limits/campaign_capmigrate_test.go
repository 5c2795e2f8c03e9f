package limits_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// Schema 16 on a store of version 15 with keys recorded before the bound
// (issue 28), on SQLite and PostgreSQL: the upgrade trims a key of 300
// senders to its CampaignKeySenders most recent and leaves one of 100 as
// it was; on PostgreSQL og_campaign is replaced and counts the next copy.
func TestCampaignCapMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	pg := harness.StartPostgres(t)
	for _, c := range []struct {
		name, driver, dsn, back string
		open                    func() (limits.Store, error)
	}{
		{"sqlite", "sqlite", "file:" + path, `PRAGMA user_version = 15; ALTER TABLE campaign_keys DROP COLUMN t0`, func() (limits.Store, error) { return limits.OpenSQLite(path) }},
		{"postgres", "pgx", pg.DSN, `UPDATE schema_version SET version = 15 WHERE component = 'limits'; ALTER TABLE campaign_keys DROP COLUMN t0`, func() (limits.Store, error) { return limits.OpenPostgres(ctx, pg.DSN) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := c.open()
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().Add(-time.Minute)
			if err := limits.FillCampaignKey(ctx, st, "t1big", 300, "rminister", now); err != nil {
				t.Fatal(err)
			}
			if err := limits.FillCampaignKey(ctx, st, "t1small", 100, "rminister", now); err != nil {
				t.Fatal(err)
			}
			st.Close()
			// back to version 15, as the store a milterd of version 15 left
			// (without t0 of 20)
			db, err := sql.Open(c.driver, c.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, c.back); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if st, err = c.open(); err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var want []string
			for i := 300 - limits.CampaignKeySenders; i < 300; i++ {
				want = append(want, fmt.Sprint("fill", i))
			}
			slices.Sort(want)
			if got, err := limits.CampaignKeySendersOf(ctx, st, "t1big"); err != nil || !slices.Equal(got, want) {
				t.Fatalf("the key of 300 senders keeps %d (%v)", len(got), err)
			}
			if got, err := limits.CampaignKeySendersOf(ctx, st, "t1small"); err != nil || len(got) != 100 {
				t.Fatalf("the key of 100 senders keeps %d (%v)", len(got), err)
			}
			res, err := st.(limits.CampaignStore).CampaignCopy(ctx, limits.CampaignCopy{Keys: []string{"t1small"}, Account: "after", Time: now.Add(time.Second), Bands: 1, Rcpts: []string{"own"}}, 15*time.Minute, 5)
			if err != nil || res.ID != "" {
				t.Fatalf("a copy after the upgrade: %+v %v", res, err)
			}
		})
	}
}
