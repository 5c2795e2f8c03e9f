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
// counted in res's store (res nil when only checking the config) with
// the fleet's seed kept there (res.CampaignSeed), suspending and alerting
// through lim, fingerprinting on the rules' walk when there is one (eng),
// so that a message is parsed once.
func CampaignEntry(cfg *config.Config, res *Resources, lim *limits.Engine, eng *rules.Engine, log *slog.Logger) (*policy.Entry, error) {
	c := cfg.Campaign
	if c == nil {
		return nil, nil
	}
	o := campaign.Options{Limits: lim, Accounts: c.Accounts, Window: time.Duration(c.Window), Action: policy.Action(c.Action),
		Suspend: c.Suspend, SharedDomains: c.SharedDomains, SendersBound: c.SenderLoginMaps, Walk: WalkLimits(cfg), Log: log}
	if res != nil && res.Store != nil {
		cs, ok := res.Store.(limits.CampaignStore)
		if !ok || res.CampaignSeed == nil {
			return nil, fmt.Errorf("campaign: the limits store (%T) does not count campaigns", res.Store)
		}
		o.Store, o.Seed = cs, res.CampaignSeed
	}
	// Said when only checking the config too (-check-config), where the
	// operator looks.
	if len(c.SharedDomains) == 0 {
		// Every login domain is then one organisation's: a run over
		// stolen accounts of the ISP's own consumer domain counts once.
		log.Warn("campaign: no shared_domains: the accounts of each login domain count as one organisation; list the login domains of consumer accounts (docs/suspension.md)")
	}
	chk := campaign.New(o)
	if lim != nil {
		lim.Campaigns = chk // counted in the limits commit's round trip
	}
	if eng != nil {
		eng.Tap = func(t *policy.Transaction) rules.Tap {
			if c := chk.Tap(t); c != nil {
				return c
			}
			return nil // no seed yet: not a nil *Collector in the interface
		}
	}
	return &policy.Entry{Check: chk, OnError: policy.Action(c.OnError)}, nil
}
