package limits_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"outguard/internal/sqldb"
	"outguard/limits"
)

// Review of the campaign seed under docs/postgres.md's restricted roles
// (schema 15): eight smarthosts, each with a pool of its own as the
// smarthost role, race on an empty campaign_seed and all get the one
// seed its first writer stored; then no restricted role changes it (the
// smarthosts may not UPDATE or DELETE it, nor the abuse desk or the
// security team), and neither the abuse desk nor the security team
// reads it.
func TestReviewSeedRestrictedRoles(t *testing.T) {
	pg := documentedRoles(t)
	ctx := context.Background()
	var err error
	const n = 8
	hosts := make([]*limits.SQLStore, n)
	for i := range hosts {
		if hosts[i], err = limits.OpenPostgres(ctx, pg.DSNFor("smarthost", "outguard")); err != nil {
			t.Fatal(err)
		}
		defer hosts[i].Close()
	}
	fresh := func(i int) []byte { return bytes.Repeat([]byte{byte(0x40 + i)}, 32) }
	got, errs := make([][]byte, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Go(func() {
			<-start
			got[i], errs[i] = hosts[i].CampaignSeed(ctx, fresh(i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("smarthost %d: %x %v, smarthost 1 %x", i+1, got[i], errs[i], got[0])
		}
		if bytes.Equal(got[0], fresh(i)) {
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("the seed %x is no smarthost's", got[0])
	}
	for _, c := range []struct{ role, stmt string }{
		{"smarthost", "UPDATE campaign_seed SET seed = 'aa'"},
		{"smarthost", "DELETE FROM campaign_seed"},
		{"smarthost", "INSERT INTO campaign_seed (id, seed) VALUES (1, 'aa') ON CONFLICT (id) DO UPDATE SET seed = 'aa'"},
		{"smarthost", "TRUNCATE campaign_seed"},
		{"abusedesk", "SELECT seed FROM campaign_seed"},
		{"abusedesk", "DELETE FROM campaign_seed"},
		{"secteam", "SELECT seed FROM campaign_seed"},
		{"secteam", "DELETE FROM campaign_seed"},
	} {
		db, err := sqldb.OpenPostgres(pg.DSNFor(c.role, "outguard"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, c.stmt)
		db.Close()
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s: %s: %v, want permission denied", c.role, c.stmt, err)
		}
	}
	if again, err := hosts[n-1].CampaignSeed(ctx, fresh(99)); err != nil || !bytes.Equal(again, got[0]) {
		t.Errorf("after the attempts: %x %v, want %x", again, err, got[0])
	}
}
