package limits

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"outguard/config"
	"outguard/policy"
)

// OpenStore opens the store cfg's limits section names. milterd and
// milterctl both open it here, so they always agree on where state lives.
func OpenStore(ctx context.Context, cfg *config.Config) (Store, error) {
	l := cfg.Limits
	var st Store
	var err error
	switch l.Store {
	case "redis":
		st, err = OpenRedisOptions(ctx, RedisOptions{Addr: l.Redis.Address, Timeout: time.Duration(l.Redis.Timeout), PoolSize: l.Redis.PoolSize})
	case "postgres":
		st, err = OpenPostgres(ctx, cfg.Postgres.ConnString())
	default:
		if err = os.MkdirAll(cfg.StateDir, 0o700); err == nil {
			st, err = OpenSQLite(filepath.Join(cfg.StateDir, "state.db"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("limits store: %w", err)
	}
	return st, nil
}

// NewEngineFromConfig builds the limits engine of cfg on store (nil to
// validate the config alone).
func NewEngineFromConfig(cfg *config.Config, store Store, log *slog.Logger) (*Engine, error) {
	l := cfg.Limits
	pol, err := PolicyFromConfig(l)
	if err != nil {
		return nil, err
	}
	return &Engine{
		Store:  store,
		Policy: pol,
		Accounts: Accounts{
			Host: cfg.HostName(), FoldCase: l.LoginCase == "fold",
			Trusted: cfg.Networks(), TrustedKey: l.TrustedKey, TrustedHeader: l.TrustedHeader,
		},
		OnSuspended: policy.Action(l.OnSuspended),
		SuspendFor:  time.Duration(l.SuspendFor),
		Contact:     l.Contact,
		Alert:       &Alerter{Sender: l.Alert.Sender(), Log: log},
		Log:         log,
		Now:         time.Now,
		Timeout:     StoreTimeout(cfg),
	}, nil
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

// PolicyFromConfig resolves the config's limits: a user's keys override the
// default's; "unlimited" lifts the rate limits, not automatic suspension
// (an override says undeliverable_per_hour: 0 to lift that too). With
// login_case: fold, overrides match logins whatever their case.
func PolicyFromConfig(l *config.Limits) (*Policy, error) {
	resolve := func(s config.LimitSet, base Limits) Limits {
		for _, f := range []struct {
			v   *int
			dst *int
		}{
			{s.MessagesPerHour, &base.MessagesPerHour},
			{s.MessagesPerDay, &base.MessagesPerDay},
			{s.RecipientsPerHour, &base.RecipientsPerHour},
			{s.RecipientsPerDay, &base.RecipientsPerDay},
			{s.UndeliverablePerHour, &base.UndeliverablePerHour},
		} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		return base
	}
	def := resolve(l.Default, Limits{})
	users := map[string]Limits{}
	for user, u := range l.Users {
		if l.LoginCase == "fold" {
			user = strings.ToLower(user)
		}
		if u.Unlimited {
			users[user] = Limits{UndeliverablePerHour: def.UndeliverablePerHour}
		} else {
			users[user] = resolve(u.LimitSet, def)
		}
	}
	return NewPolicy(def, users)
}
