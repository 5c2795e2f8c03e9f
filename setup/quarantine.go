package setup

import (
	"context"
	"time"

	"outguard/complaint"
	"outguard/config"
	"outguard/quarantine"
)

// OpenQuarantine opens the quarantine cfg configures, as host cfg.HostName().
func OpenQuarantine(ctx context.Context, cfg *config.Config) (*quarantine.Store, error) {
	var s *quarantine.Store
	var err error
	if cfg.Quarantine.Store == "postgres" {
		s, err = quarantine.OpenPostgres(ctx, cfg.Postgres.ConnString())
	} else {
		s, err = quarantine.Open(cfg.QuarantineDir())
	}
	if err != nil {
		return nil, err
	}
	s.Host = cfg.HostName()
	s.ReplyTimeout = time.Duration(cfg.Quarantine.ReleaseTimeout)
	if cfg.Complaints != nil {
		// Released mail carries a complaint reference as accepted mail
		// does (complaint.Stamper.Fields, sealed at release).
		ks, err := ComplaintKeys(cfg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Stamp = complaint.NewStamper(complaint.Options{Header: cfg.Complaints.Header, Keys: ks, CFBLAddress: cfg.Complaints.CFBLAddress}).Fields
	}
	return s, nil
}
