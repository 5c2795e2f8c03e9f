package setup

import (
	"fmt"

	"outguard/complaint"
	"outguard/config"
	"outguard/limits"
)

// ComplaintKeys loads the complaints section's key files: at milterd's
// start, -check-config and reload, and at every milterctl complaints
// command, so a missing or unsafe key is the config's error.
func ComplaintKeys(cfg *config.Config) (complaint.Keys, error) {
	ks, err := complaint.LoadKeys(cfg.Complaints.Keys)
	if err != nil {
		return nil, fmt.Errorf("complaints.keys: %w", err)
	}
	return ks, nil
}

// ComplaintStamper is the check that stamps accepted mail with its
// reference, keyed as eng keys accounts.
func ComplaintStamper(cfg *config.Config, eng *limits.Engine) (*complaint.Stamper, error) {
	ks, err := ComplaintKeys(cfg)
	if err != nil {
		return nil, err
	}
	return complaint.NewStamper(complaint.Options{
		Header: cfg.Complaints.Header, Keys: ks, Host: cfg.HostName(),
		Account: eng.AccountOf, CFBLAddress: cfg.Complaints.CFBLAddress,
	}), nil
}

// ComplaintIngester reads reports for milterctl complaints ingest,
// recording them through eng (counted, suspending at complaints_per_day).
func ComplaintIngester(cfg *config.Config, eng *limits.Engine) (*complaint.Ingester, error) {
	ks, err := ComplaintKeys(cfg)
	if err != nil {
		return nil, err
	}
	fbl := complaint.FeedbackLoops{AuthServID: cfg.Complaints.AuthServID, Resolver: cfg.Complaints.Resolver}
	for _, f := range cfg.Complaints.FeedbackLoops {
		fbl.Domains = append(fbl.Domains, f.Domain)
	}
	return &complaint.Ingester{Keys: ks, Header: cfg.Complaints.Header, FBL: fbl, Record: eng}, nil
}
