package limits

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/policy"
)

// A campaign copy is counted in the message's end-of-data round trip
// (stage.go), not in a call beside it: the limits engine's commit asks
// the campaign engine for the copy (Campaigner), hands it to the store
// with the message (Sent.Campaign), and leaves the store's answer in the
// transaction for the campaign engine's own commit (CampaignOutcome),
// which then only decides: the verdict, the alert, the suspensions. A
// message the store does not admit (a limit, a suspension) counts no
// copy: the MTA refuses it. Every store folds it: SQLite in the
// commit's transaction (campaignCommit), Redis in the admit script
// (admitCampaignScript), PostgreSQL in og_admit (og_campaign,
// campaignpg.go).

// CampaignCount is a copy to count with its message: CampaignStore.
// CampaignCopy's arguments, and what the store made of it.
type CampaignCount struct {
	Copy      CampaignCopy
	Window    time.Duration
	Threshold int
	// Done: the store counted it with the message (Result), or
	// counted nothing because the message was not admitted; otherwise
	// (the commit failed, or did not run) the copy is counted on its own.
	Done   bool
	Result CampaignResult
}

// Campaigner builds a message's campaign copy for account (nil: none to
// count): the campaign engine.
type Campaigner interface {
	CampaignCount(ctx context.Context, t *policy.Transaction, account string) (*CampaignCount, error)
}

type campaignOutcomeKey struct{}

// campaignOutcome is what the limits commit left for the campaign commit.
type campaignOutcome struct {
	c   *CampaignCount
	err error
}

// CampaignOutcome is the copy the limits engine's commit counted for t
// and the campaign engine's failure to build it, if any. ok is false when
// the limits commit did not take it (the campaign engine counts alone).
func CampaignOutcome(t *policy.Transaction) (c *CampaignCount, err error, ok bool) {
	o, ok := t.Value(campaignOutcomeKey{}).(campaignOutcome)
	return o.c, o.err, ok
}

// campaignCount builds t's copy for the commit of account's message; a
// failure to build it is left for the campaign engine's commit (its own
// on_error), the message counted without it.
func (e *Engine) campaignCount(ctx context.Context, t *policy.Transaction, account string) *CampaignCount {
	if e.Campaigns == nil {
		return nil
	}
	c, err := e.Campaigns.CampaignCount(ctx, t, account)
	t.SetValue(campaignOutcomeKey{}, campaignOutcome{c, err})
	if err != nil {
		return nil
	}
	return c
}

// campaignCommit counts c in SQLite's commit transaction tx (the
// database's write lock covers its keys) when the message was admitted;
// CommitMessage marks it Done once tx is committed.
func (s *SQLStore) campaignCommit(ctx context.Context, tx *sql.Tx, c *CampaignCount, admitted bool) error {
	if !admitted {
		return nil
	}
	var err error
	c.Result, err = s.campaignIn(ctx, tx, c.Copy, c.Window, c.Threshold)
	return err
}

// admitCampaignScript is end-of-message with a campaign copy, one script
// (CommitMessage): KEYS admitScript's then campaignScript's, ARGV
// admitScript's then campaignScript's, then how many KEYS and ARGV are
// admitScript's. The copy's campaign links are checked first (a link to
// an undeclared campaign returns "!retry" and the ids, nothing written);
// then the message is admitted as admitScript does, and only an
// admitted message's copy is counted. Returns {admitScript's reply} or
// {admitScript's reply, campaignScript's}. The admit keys are the
// account's and the campaign keys one slot of their own: like
// admitScript, it needs a single Redis, not a Cluster.
var admitCampaignScript = redis.NewScript(usageLua + sightLua + rollLua + `
local function admit(KEYS, ARGV)
` + admitLua + `
end
local function campaign(KEYS, ARGV, dry)
` + campaignLua + `
end
local nak, naa = tonumber(ARGV[#ARGV - 1]), tonumber(ARGV[#ARGV])
local ak, ck, aa, ca = {}, {}, {}, {}
for i = 1, #KEYS do if i <= nak then ak[#ak + 1] = KEYS[i] else ck[#ck + 1] = KEYS[i] end end
for i = 1, #ARGV - 2 do if i <= naa then aa[#aa + 1] = ARGV[i] else ca[#ca + 1] = ARGV[i] end end
local need = campaign(ck, ca, true)
if #need > 1 then return need end
local u = admit(ak, aa)
if u.err then return u end
if u[7] ~= 1 then return {u} end
return {u, campaign(ck, ca, false)}`)

// commitCampaign is CommitMessage with m's campaign copy: one script
// call (but for a copy whose keys link to campaigns it did not declare,
// campaignKeys).
func (r *Redis) commitCampaign(ctx context.Context, m Sent, keys []string, args []any) ([]any, error) {
	c := m.Campaign
	var admitted []any
	v, err := r.runCampaign(ctx, c.Copy, func(ck []string, ca []any) ([]any, error) {
		v, err := admitCampaignScript.Run(ctx, r.c, append(slices.Clone(keys), ck...), append(append(slices.Clone(args), ca...), len(keys), len(args))...).Slice()
		if err != nil || len(v) == 0 || v[0] == "!retry" {
			return v, err
		}
		admitted, _ = v[0].([]any)
		if len(v) < 2 {
			return []any{}, nil
		}
		cv, _ := v[1].([]any)
		return cv, nil
	}, c.Window, c.Threshold)
	if err != nil {
		return nil, err
	}
	if len(v) > 0 {
		if c.Result, err = r.campaignReply(ctx, c.Copy, v); err != nil {
			return nil, err
		}
	}
	c.Done = true
	return admitted, nil
}
