package setup

import (
	"context"
	"time"

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
	return s, nil
}
