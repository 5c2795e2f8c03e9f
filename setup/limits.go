package setup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"outguard/config"
	"outguard/geoip"
	"outguard/limits"
	"outguard/policy"
)

// OpenLimitsStore opens the store cfg's limits section names. milterd and
// milterctl both open it here, so they always agree on where state lives.
func OpenLimitsStore(ctx context.Context, cfg *config.Config) (limits.Store, error) {
	l := cfg.Limits
	var st limits.Store
	var err error
	switch l.Store {
	case "redis":
		skew := time.Duration(l.Redis.MaxClockSkew)
		if skew == 0 {
			skew = -1 // the config's 0 is off, as PostgreSQL's setting
		}
		st, err = limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: l.Redis.Address, Timeout: time.Duration(l.Redis.Timeout), PoolSize: l.Redis.PoolSize, MaxClockSkew: skew})
	case "postgres":
		st, err = limits.OpenPostgres(ctx, cfg.Postgres.ConnString())
	default:
		if err = os.MkdirAll(cfg.StateDir, 0o700); err == nil {
			st, err = limits.OpenSQLite(filepath.Join(cfg.StateDir, "state.db"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("limits store: %w", err)
	}
	return st, nil
}

// LimitsEngine builds the limits engine of cfg on store (nil to validate
// the config alone).
func LimitsEngine(cfg *config.Config, store limits.Store, log *slog.Logger) (*limits.Engine, error) {
	l := cfg.Limits
	pol, err := LimitsPolicy(l)
	if err != nil {
		return nil, err
	}
	eng := &limits.Engine{
		Store:  store,
		Policy: pol,
		Accounts: limits.Accounts{
			Host: cfg.HostName(), FoldCase: l.LoginCase == "fold",
			Trusted: cfg.Networks(), TrustedKey: l.TrustedKey, TrustedHeader: l.TrustedHeader,
		},
		OnSuspended: policy.Action(l.OnSuspended),
		SuspendFor:  time.Duration(l.SuspendFor),
		Escalate:    limits.Escalation{After: l.Escalate.After, Within: time.Duration(l.Escalate.Within)},
		Contact:     l.Contact,
		Alert:       Alerter(cfg, store, log),
		Log:         log,
		Now:         time.Now,
		Timeout:     StoreTimeout(cfg),
	}
	if g := cfg.GeoIP; g != nil {
		db, err := geoip.Open(geoip.Options{CountryDB: g.CountryDB, ASNDB: g.ASNDB})
		if err != nil {
			return nil, err
		}
		eng.Geo = db // countries_per_hour, asns_per_hour
	}
	return eng, nil
}

// StoreTimeout is how long one call to cfg's limits store may wait: the
// server's own bound on a statement (PostgreSQL, Redis), or SQLite's
// busy timeout.
func StoreTimeout(cfg *config.Config) time.Duration {
	switch cfg.Limits.Store {
	case "postgres":
		return time.Duration(cfg.Postgres.StatementTimeout)
	case "redis":
		return time.Duration(cfg.Limits.Redis.Timeout)
	}
	return 10 * time.Second
}

// LimitsPolicy resolves the config's limits: a user's keys override the
// default's; "unlimited" lifts the rate limits, not automatic suspension
// (an override says undeliverable_per_hour: 0, refused_messages_per_hour:
// 0, networks_per_hour: 0, … to lift that too). With login_case: fold,
// overrides match logins whatever their case.
func LimitsPolicy(l *config.Limits) (*limits.Policy, error) {
	resolve := func(s config.LimitSet, base limits.Limits) limits.Limits {
		for _, k := range limits.Kinds {
			if v := s[k.Key]; v != nil {
				*k.Field(&base) = *v
			}
		}
		return base
	}
	def := resolve(l.Default, limits.Limits{})
	users := map[string]limits.Limits{}
	for user, u := range l.Users {
		if l.LoginCase == "fold" {
			user = strings.ToLower(user)
		}
		if u.Unlimited {
			lim := def
			for _, k := range limits.Kinds {
				if k.Rate {
					*k.Field(&lim) = 0
				}
			}
			users[user] = lim
		} else {
			users[user] = resolve(u.LimitSet, def)
		}
	}
	return limits.NewPolicy(def, users)
}
