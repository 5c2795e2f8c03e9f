package limits_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"outguard/limits"
)

// TestReviewRspare4DocumentedGrantsSpare: claim 5, docs/postgres.md's
// grants for the spare, on a real PostgreSQL with exactly the documented
// grants: the abuse desk spares, lifts, records and unspares; a smarthost
// (the DBA variant, row rights only) reads the spare, ends it with a new
// run, lifts its own suspension of a spared account, and purges.
func TestReviewRspare4DocumentedGrantsSpare(t *testing.T) {
	pg := documentedRoles(t)
	ctx := context.Background()
	sh, err := limits.OpenPostgres(ctx, pg.DSNFor("smarthost", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	desk, err := limits.OpenPostgres(ctx, pg.DSNFor("abusedesk", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	now := time.Now()
	id := establish(t, sh, "petition", now)
	c, err := sh.CampaignByID(ctx, id)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	eng := &limits.Engine{Store: sh, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Accounts: limits.Accounts{Host: "mx1"}}
	for _, a := range []string{"petition0", "petition1"} {
		if _, err := eng.SuspendCampaign(ctx, a, *c, now); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	// the desk (milterctl campaigns spare)
	_, err = desk.CampaignSenders(ctx, id)
	check("desk CampaignSenders", err)
	_, err = desk.AccountCampaigns(ctx, "petition0", limits.CampaignAccountsMax)
	check("desk AccountCampaigns", err)
	_, err = desk.SparedAccount(ctx, id, "petition0", time.Now(), 15*time.Minute)
	check("desk SparedAccount", err)
	check("desk SpareCampaign", desk.SpareCampaign(ctx, id, "desk", now, []string{"petition0", "petition1", "petition4"}))
	check("desk UnlistSpared", desk.UnlistSpared(ctx, id, "petition4")) // (a crossing found at the lift)
	_, _, err = desk.Usage(ctx, "petition0", now)
	check("desk Usage", err)
	check("desk Audit", desk.Audit(ctx, limits.AuditEvent{Time: now, Account: "petition0", Event: limits.AuditSpared, By: "desk", Campaign: id}))
	_, err = desk.LiftCampaign(ctx, "petition0", id)
	check("desk LiftCampaign", err)
	_, err = desk.CampaignByID(ctx, id)
	check("desk CampaignByID (campaigns show: Spared)", err)
	_, err = desk.Campaigns(ctx, time.Time{}, 10)
	check("desk Campaigns (campaigns list)", err)
	// milterd on a smarthost
	_, err = sh.SparedAccount(ctx, id, "petition1", time.Now(), 15*time.Minute)
	check("smarthost SparedAccount", err)
	_, err = campaignSpared(ctx, sh, id)
	check("smarthost campaignSpared (CampaignByID)", err)
	_, err = sh.LiftCampaign(ctx, "petition1", id) // campaign.Engine.suspend's own lift
	check("smarthost LiftCampaign", err)
	check("smarthost Audit spared", sh.Audit(ctx, limits.AuditEvent{Time: now, Account: "petition1", Event: limits.AuditSpared, By: "milterd", Campaign: id}))
	_, err = sh.TouchSpare(ctx, id, "petition1", now.Add(time.Minute), 15*time.Minute) // (design B': a copy moves it on)
	check("smarthost TouchSpare", err)
	check("smarthost Purge", sh.Purge(ctx, now.Add(8*24*time.Hour)))
	// the desk again: spare, unspare
	id2 := establish(t, sh, "other", now)
	check("desk SpareCampaign 2", desk.SpareCampaign(ctx, id2, "desk", now, []string{"other0"}))
	check("desk SpareCampaign 2 again", desk.SpareCampaign(ctx, id2, "desk", now, []string{"other1"}))
	_, err = desk.UnspareCampaign(ctx, id2)
	check("desk UnspareCampaign", err)
}
