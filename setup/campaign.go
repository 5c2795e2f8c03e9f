package setup

import (
	"fmt"
	"log/slog"
	"time"

	"outguard/campaign"
	"outguard/config"
	"outguard/limits"
	"outguard/policy"
	"outguard/rules"
)

// CampaignEntry is cfg's campaign check (nil without a campaign section):
// counted in store (nil when only checking the config), suspending and
// alerting through lim, fingerprinting on the rules' walk when there is
// one (eng), so that a message is parsed once.
func CampaignEntry(cfg *config.Config, store limits.Store, lim *limits.Engine, eng *rules.Engine, log *slog.Logger) (*policy.Entry, error) {
	c := cfg.Campaign
	if c == nil {
		return nil, nil
	}
	o := campaign.Options{Limits: lim, Accounts: c.Accounts, Window: time.Duration(c.Window), Action: policy.Action(c.Action),
		Suspend: c.Suspend, SharedDomains: c.SharedDomains, Walk: WalkLimits(cfg), Log: log}
	if c.SeedFile != "" {
		seed, err := campaign.LoadSeed(c.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("campaign.seed_file: %w", err)
		}
		o.Seed = seed
	}
	if store != nil {
		cs, ok := store.(limits.CampaignStore)
		if !ok {
			return nil, fmt.Errorf("campaign: the limits store (%T) does not count campaigns", store)
		}
		o.Store = cs
	}
	// Both warnings are said when only checking the config too
	// (-check-config), where the operator looks.
	if len(c.SharedDomains) == 0 {
		// Every login domain is then one organisation's: a run over
		// stolen accounts of the ISP's own consumer domain counts once.
		log.Warn("campaign: no shared_domains: the accounts of each login domain count as one organisation; list the login domains of consumer accounts (docs/suspension.md)")
	}
	if c.SeedFile == "" {
		// The hash in the source: an attacker can choose padding whose
		// runs are sampled before the campaign's text.
		log.Warn("campaign: no seed_file: the fingerprint's sampling is the published one, which copies padded with words chosen against it evade; give every smarthost of the fleet the same seed file (docs/suspension.md)")
	}
	chk := campaign.New(o)
	if lim != nil {
		lim.Campaigns = chk // counted in the limits commit's round trip
	}
	if eng != nil {
		eng.Tap = func(t *policy.Transaction) rules.Tap { return chk.Tap(t) }
	}
	return &policy.Entry{Check: chk, OnError: policy.Action(c.OnError)}, nil
}
