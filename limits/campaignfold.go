package limits

import (
	"context"
	"database/sql"
	"time"

	"outguard/policy"
)

// A campaign copy is counted in the message's end-of-data round trip
// (stage.go), not in a call beside it: the limits engine's commit asks
// the campaign engine for the copy (Campaigner), hands it to the store
// with the message (Sent.Campaign), and leaves the store's answer in the
// transaction for the campaign engine's own commit (CampaignOutcome),
// which then only decides: the verdict, the alert, the suspensions. A
// message the store does not admit (a limit, a suspension) counts no
// copy: the MTA refuses it.

// CampaignCount is a copy to count with its message: CampaignStore.
// CampaignCopy's arguments, and what the store made of it.
type CampaignCount struct {
	Copy      CampaignCopy
	Window    time.Duration
	Threshold int
	// Done: the store counted it with the message (Result), or
	// counted nothing because the message was not admitted; otherwise
	// (a store that cannot fold it) the copy is counted on its own.
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
