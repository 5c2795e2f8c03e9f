package limits_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/quarantine"
)

// documentedGrants is every GRANT statement of docs/postgres.md's SQL
// blocks, as an operator pastes them.
func documentedGrants(t *testing.T) string {
	b, err := os.ReadFile("../docs/postgres.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sql"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.HasPrefix(line, "GRANT "):
			stmt, _, _ := strings.Cut(line, "--")
			out = append(out, strings.TrimSpace(stmt))
		}
	}
	return strings.Join(out, "\n")
}

// documentedRoles is a PostgreSQL with database outguard, its tables
// created by the owning role (milterd), and the roles smarthost,
// abusedesk and secteam given exactly docs/postgres.md's grants (EXECUTE
// revoked from PUBLIC, then granted as it says).
func documentedRoles(t *testing.T) *harness.Postgres {
	pg := harness.StartPostgres(t)
	owner := pg.Database("outguard", "milterd", "smarthost", "abusedesk", "secteam")
	ctx := context.Background()
	m, err := limits.OpenPostgres(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	q, err := quarantine.OpenPostgres(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	pg.SQL("outguard", `REVOKE EXECUTE ON FUNCTION og_begin, og_admit, og_sight, og_usage, og_events, og_campaign, og_merge_rcpts, og_reach FROM PUBLIC;`)
	pg.SQL("outguard", documentedGrants(t))
	return pg
}

// Review of docs/postgres.md's roles: with exactly the grants it gives
// (and EXECUTE revoked from PUBLIC, then granted as it says), a smarthost
// does everything a message's path and its housekeeping do, refused
// recipients' events (og_events) and the campaign seed (schema 15:
// created and read by the smarthosts, not readable by the abuse desk)
// included, and the abuse desk lists and reads accounts. Before, the documented grants left out the refused
// table (schema 10) and the campaign tables: a fleet set up as the
// document says failed every refused recipient's count (og_events:
// permission denied), every Purge (so nothing was purged after it), and
// the abuse desk's account list.
func TestReviewDocumentedGrants(t *testing.T) {
	pg := documentedRoles(t)
	ctx := context.Background()
	sh, err := limits.OpenPostgres(ctx, pg.DSNFor("smarthost", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	now := time.Now()
	ev := []limits.Undeliverable{{ID: "e1", Time: now, Rcpt: "r@remote.test", Status: "5.7.1", Source: "rcpt"}}
	cc := &limits.CampaignCount{Copy: limits.CampaignCopy{Keys: campaignKeys("grants", true), Account: "alice", Time: now, Bands: 5, Rcpts: []string{"h"}}, Window: time.Hour, Threshold: 1}
	if _, ok, _, _, err := sh.CommitMessage(ctx, "alice", limits.Sent{Host: "mx1", QueueID: "Q1", Rcpts: []string{"r"}, Time: now, Campaign: cc}, limits.Limits{MessagesPerHour: 5}, nil, now); !ok || err != nil || !cc.Done || !cc.Result.New {
		t.Errorf("smarthost commit with a campaign copy: %v %v, copy %+v", ok, err, cc)
	}
	if n, err := sh.AddRefused(ctx, "alice", ev, now); n != 1 || err != nil {
		t.Errorf("smarthost refused recipient: %d %v", n, err)
	}
	if n, err := sh.AddUndeliverable(ctx, "alice", ev, now); n != 1 || err != nil {
		t.Errorf("smarthost undeliverable: %d %v", n, err)
	}
	if err := sh.Purge(ctx, now); err != nil {
		t.Errorf("smarthost purge: %v", err)
	}
	// The campaign seed (schema 15): the smarthosts create it and read
	// it, the first writer's for good.
	seed, err := sh.CampaignSeed(ctx, bytes.Repeat([]byte{1}, 32))
	if err != nil || !bytes.Equal(seed, bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("smarthost creating the campaign seed: %x %v", seed, err)
	}
	if again, err := sh.CampaignSeed(ctx, bytes.Repeat([]byte{2}, 32)); err != nil || !bytes.Equal(again, seed) {
		t.Errorf("smarthost reading the campaign seed: %x %v", again, err)
	}
	r, err := limits.OpenPostgres(ctx, pg.DSNFor("abusedesk", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ok, err := r.Suspend(ctx, limits.Suspension{Key: "bob", Since: now, Reason: "manual", By: "abuse-desk"}, now); !ok || err != nil {
		t.Errorf("abuse desk suspend: %v %v", ok, err)
	}
	if accts, err := r.Accounts(ctx); err != nil || len(accts) != 2 {
		t.Errorf("abuse desk account list: %v %v", accts, err)
	}
	// The seed is the smarthosts' secret: the abuse desk neither reads
	// nor writes it.
	if got, err := r.CampaignSeed(ctx, bytes.Repeat([]byte{3}, 32)); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("abuse desk reading the campaign seed: %x %v", got, err)
	}
	if evs, err := r.Refused(ctx, "alice", now.Add(-time.Hour)); err != nil || len(evs) != 1 {
		t.Errorf("abuse desk reading alice's refused recipients: %v %v", evs, err)
	}
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 5}, nil)
	if v, err := limits.View(ctx, r, pol, "alice", now, true); err != nil || v.Usage.MessagesHour != 1 {
		t.Errorf("abuse desk showing alice: %+v %v", v, err)
	}
}
