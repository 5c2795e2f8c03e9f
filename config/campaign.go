package config

import (
	"strings"
	"time"

	"golang.org/x/net/idna"

	"outguard/limits"
	"outguard/policy"
)

// Campaign configures the campaigns across accounts (package campaign).
type Campaign struct {
	Accounts int      `yaml:"accounts"` // distinct accounts sending one campaign …
	Window   Duration `yaml:"window"`   // … within this window
	Action   Action   `yaml:"action"`   // for further copies
	Suspend  bool     `yaml:"suspend"`  // suspend the accounts that sent it
	OnError  Action   `yaml:"on_error"` // the store failed
	// SharedDomains are the login domains of the ISP's consumer
	// accounts: each such account is a sender of its own. The accounts
	// of any other login domain (a hosted company's, an association's)
	// are one organisation and count once (campaign.Options). Required
	// (nil: the key is missing): no default is safe, as [] leaves a run
	// over stolen consumer accounts of one domain unfound and a guess
	// would count a hosted company's staff as strangers.
	SharedDomains []string `yaml:"shared_domains"`
	// SenderLoginMaps says the MTA refuses an envelope sender the login
	// does not own (Postfix: smtpd_sender_login_maps with
	// reject_authenticated_sender_login_mismatch): an envelope sender at
	// a shared domain is then the account's own address, whatever its
	// local part (campaign.Options.SendersBound).
	SenderLoginMaps bool `yaml:"sender_login_maps"`
	// SeedFile was the file of the seed keying the fingerprint's
	// sampling. The seed lives in the limits store now (campaign.
	// SeedSource): a config that still names a file is refused, not
	// read with the file silently ignored.
	SeedFile removedSeedFile `yaml:"seed_file"`
}

// removedSeedFile is campaign.seed_file, refused whatever its value.
type removedSeedFile struct{}

func (*removedSeedFile) Removed() string {
	return "the campaign seed now lives in the limits store, created by the first smarthost that needs it and shared by the fleet; remove the key (and the file)"
}

func (c *Campaign) setDefaults() {
	*c = Campaign{Accounts: 5, Window: Duration(15 * time.Minute), Action: Action(policy.Quarantine), Suspend: true, OnError: Action(policy.Tempfail)}
}

func (c *Config) validateCampaign(bad func(key, format string, args ...any) error) error {
	cp := c.Campaign
	if cp == nil {
		return nil
	}
	if c.Limits == nil {
		return bad("campaign", "counts in the limits store and suspends through limits: there is no limits section")
	}
	if cp.Accounts < 2 {
		return bad("campaign.accounts", "must be at least 2: one account's mail to many recipients is no campaign")
	}
	if cp.Accounts > limits.CampaignKeySenders {
		return bad("campaign.accounts", "must be at most %d: the store keeps the %d most recent senders of a text", limits.CampaignKeySenders, limits.CampaignKeySenders)
	}
	if cp.Window < Duration(time.Minute) || cp.Window > Duration(24*time.Hour) {
		return bad("campaign.window", "must be between 1m and 24h (the store keeps a day of fingerprints)")
	}
	switch policy.Action(cp.Action) {
	case policy.Quarantine, policy.Reject, policy.Tempfail:
	default:
		return bad("campaign.action", "want quarantine, reject or tempfail, got %s", policy.Action(cp.Action))
	}
	if cp.SharedDomains == nil {
		return bad("campaign", "needs shared_domains: list the login domains of your consumer accounts (shared_domains: [isp.example]), each of whose accounts counts alone; "+
			"an explicit [] makes every login domain a company's, whose accounts count as one organisation, and a run over stolen consumer accounts of one domain is then never found")
	}
	for i, d := range cp.SharedDomains {
		// A domain, not an address or a pattern: compared with the
		// login's domain and its parents (campaign.Options).
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		// A name DNS can hold (RFC 5891, IDNA lookup): a comma-joined
		// string, an empty label or a control byte would be a domain
		// no login has, and its consumer accounts would silently count
		// as one company.
		_, idnErr := idna.Lookup.ToASCII(d)
		if !strings.Contains(d, ".") || strings.ContainsAny(d, " \t@*/:") || strings.HasPrefix(d, ".") || strings.Contains(d, "..") || idnErr != nil {
			return bad("campaign.shared_domains", "want the login domains of consumer accounts (isp.example), got %q", cp.SharedDomains[i])
		}
		cp.SharedDomains[i] = d
	}
	if cp.SenderLoginMaps && len(cp.SharedDomains) == 0 {
		// It names the shared domains' envelope senders: with none it
		// would be set and do nothing.
		return bad("campaign.sender_login_maps", "applies to envelope senders at the shared_domains, and there are none")
	}
	return failureAction(bad, "campaign.on_error", cp.OnError)
}
