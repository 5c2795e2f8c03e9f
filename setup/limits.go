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
		st, err = limits.OpenRedis(ctx, l.Redis.Address)
	case "postgres":
		st, err = limits.OpenPostgres(ctx, cfg.Postgres.DSN)
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
		Contact:     l.Contact,
		Alert:       &limits.Alerter{Sender: l.Alert.Sender(), Log: log},
		Log:         log,
		Now:         time.Now,
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

// LimitsPolicy resolves the config's limits: a user's keys override the
// default's; "unlimited" lifts the rate limits, not automatic suspension
// (an override says undeliverable_per_hour: 0, refused_messages_per_hour:
// 0, networks_per_hour: 0, … to lift that too). With login_case: fold,
// overrides match logins whatever their case.
func LimitsPolicy(l *config.Limits) (*limits.Policy, error) {
	resolve := func(s config.LimitSet, base limits.Limits) limits.Limits {
		for _, f := range []struct {
			v   *int
			dst *int
		}{
			{s.MessagesPerHour, &base.MessagesPerHour},
			{s.MessagesPerDay, &base.MessagesPerDay},
			{s.RecipientsPerHour, &base.RecipientsPerHour},
			{s.RecipientsPerDay, &base.RecipientsPerDay},
			{s.UndeliverablePerHour, &base.UndeliverablePerHour},
			{s.RefusedMessagesPerHour, &base.RefusedMessagesPerHour},
			{s.NetworksPerHour, &base.NetworksPerHour},
			{s.CountriesPerHour, &base.CountriesPerHour},
			{s.ASNsPerHour, &base.ASNsPerHour},
			{s.SpamPerHour, &base.SpamPerHour},
		} {
			if f.v != nil {
				*f.dst = *f.v
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
			users[user] = limits.Limits{UndeliverablePerHour: def.UndeliverablePerHour, RefusedMessagesPerHour: def.RefusedMessagesPerHour,
				NetworksPerHour: def.NetworksPerHour, CountriesPerHour: def.CountriesPerHour, ASNsPerHour: def.ASNsPerHour, SpamPerHour: def.SpamPerHour}
		} else {
			users[user] = resolve(u.LimitSet, def)
		}
	}
	return limits.NewPolicy(def, users)
}
