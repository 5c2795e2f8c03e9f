package setup

import (
	"context"
	"errors"
	"time"

	"outguard/complaint"
	"outguard/config"
	"outguard/policy"
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
	if cp := cfg.Complaints; cp != nil {
		// Released mail carries a complaint reference as accepted mail
		// does (complaint.Stamper.Fields, sealed at release). The keys are
		// read at each release, not here: listing or showing entries
		// needs no key, and an unreadable one fails the release (the
		// entry stays held) naming the file.
		s.Stamp = func(host, queueID, account string) ([]string, []policy.Header, error) {
			ks, err := ComplaintKeys(cfg)
			if err != nil {
				return nil, nil, err
			}
			remove, add, err := complaint.NewStamper(complaint.Options{Header: cp.Header, Keys: ks, CFBLAddress: cp.CFBLAddress}).Fields(host, queueID, account)
			if errors.Is(err, complaint.ErrTooLong) {
				// An account too long to seal: released unstamped,
				// as milterd lets such mail go, not held for ever.
				return remove, nil, nil
			}
			return remove, add, err
		}
	}
	return s, nil
}
