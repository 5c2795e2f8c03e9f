// Package setup is the wiring room: it turns a config.Config into the
// stores, the engines and the milter state. milterd (through daemon) and
// milterctl both build here, so they agree on where state lives and how a
// check is made; the engines themselves take plain options and never see
// the config.
package setup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"outguard/campaign"
	"outguard/clamd"
	"outguard/config"
	"outguard/limits"
	"outguard/metrics"
	"outguard/milter"
	"outguard/policy"
	"outguard/quarantine"
	"outguard/rules"
	"outguard/spam"
	"outguard/spool"
	"path/filepath"
	"time"
)

// Version is set at build time with -ldflags "-X outguard/setup.Version=…".
var Version = "0.1.0-dev"

// Resources are what outlives a reload: the state store.
type Resources struct {
	Store      limits.Store      // nil without a limits section
	Quarantine *quarantine.Store // nil without a quarantine section
	Metrics    *metrics.Metrics
	// SpoolBudget is spool.max_total, shared by the messages of every
	// config: a reload changes its bound, not what is taken.
	SpoolBudget *spool.Budget
	// CampaignSeed is the fleet's campaign seed, kept in Store, read at
	// the first message that needs it and again every
	// campaign.SeedRecheck, across reloads (nil without a limits section).
	CampaignSeed *campaign.SeedSource
}

// Open opens the resources cfg needs.
func Open(ctx context.Context, cfg *config.Config) (*Resources, error) {
	r := &Resources{Metrics: metrics.New(), SpoolBudget: spool.NewBudget(int64(cfg.Spool.MaxTotal))}
	if cfg.Limits != nil {
		var err error
		if r.Store, err = OpenLimitsStore(ctx, cfg); err != nil {
			return nil, err
		}
		if st, ok := r.Store.(limits.SeedStore); ok {
			r.CampaignSeed = campaign.StoreSeed(st) // read when a message first needs it
		}
	}
	if cfg.Quarantine != nil {
		q, err := OpenQuarantine(ctx, cfg)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.Quarantine = q
	}
	return r, nil
}

// Close releases the resources.
func (r *Resources) Close() {
	if r.Store != nil {
		r.Store.Close()
	}
	if r.Quarantine != nil {
		r.Quarantine.Close()
	}
}

// Built is a ready milter state with the engines the background work also
// drives: the mail log follower feeds the limits engine, the watcher
// reloads the rules.
type Built struct {
	State  *milter.State
	Probes map[string]metrics.Probe // for /readyz
	Clamd  *clamd.Check             // nil without a clamd section
	Limits *limits.Engine           // nil without a limits section
	Rules  *rules.Engine            // nil without a rules section
	Follow *limits.Follower         // nil without a mail log to follow
}

// Build turns a config into a ready milter state. Everything that can fail
// fails here, so that a reload either swaps in a complete state or none.
// res may be nil to validate a config without opening anything.
func Build(cfg *config.Config, log *slog.Logger, res *Resources) (*Built, error) {
	b := &Built{Probes: map[string]metrics.Probe{}}
	// A spool directory that cannot take a file would tempfail every
	// message over memory_limit: refused at -check-config, start and
	// reload, and watched by /readyz.
	if err := spool.CheckDir(cfg.Spool.Dir); err != nil {
		return nil, fmt.Errorf("spool.dir: %w", err)
	}
	spoolDir := cfg.Spool.Dir
	b.Probes["spool"] = func(context.Context) error { return spool.CheckDir(spoolDir) }
	entries := []policy.Entry{{
		Check:   &policy.Unauthenticated{Action: policy.Action(cfg.Unauthenticated), Trusted: cfg.Networks()},
		OnError: policy.Tempfail,
	}}
	if l := cfg.Limits; l != nil {
		var store limits.Store
		if res != nil {
			store = res.Store
		}
		var err error
		if b.Limits, err = LimitsEngine(cfg, store, log); err != nil {
			return nil, err
		}
		if res != nil {
			b.Limits.Observer = res.Metrics
		}
		entries = append(entries, policy.Entry{Check: b.Limits, OnError: policy.Action(l.OnError)})
	}
	if cd := cfg.Clamd; cd != nil {
		addrs := make([]clamd.Addr, len(cd.Addresses))
		for i, a := range cd.Addresses {
			addrs[i] = clamd.Addr{Network: a.Network, Address: a.Addr}
		}
		client := clamd.New(addrs, clamd.Options{
			ConnectTimeout: time.Duration(cd.ConnectTimeout),
			IOTimeout:      time.Duration(cd.IOTimeout),
			ReplyTimeout:   time.Duration(cd.ReplyTimeout),
			MaxConns:       cd.MaxConnections,
			FdPassing:      cd.FdPassing,
		})
		chk := &clamd.Check{Client: client, Limit: int64(cd.MaxStream), OnVirus: policy.Action(cd.OnVirus), Oversize: policy.Action(cd.Oversize), Log: log}
		if res != nil { // serving, not only checking the config
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cd.ConnectTimeout))
			chk.Prime(ctx)
			cancel()
		}
		entries = append(entries, policy.Entry{Check: chk, OnError: policy.Action(cd.OnError)})
		b.Probes["clamd"] = client.Health
		b.Clamd = chk
	} else {
		log.Warn("no clamd section: messages are not scanned for malware")
	}
	// After clamd: its verdict is collected first, from the stream it fed
	// while the message arrived.
	if r := cfg.Rules; r != nil {
		var err error
		if b.Rules, err = RulesEngine(cfg, log); err != nil {
			return nil, err
		}
		entries = append(entries, policy.Entry{Check: b.Rules, OnError: policy.Action(r.OnError)})
		eng := b.Rules
		b.Probes["rules"] = func(context.Context) error {
			if eng.Set() == nil {
				return errors.New("no rule set loaded")
			}
			return nil
		}
	}
	if sp := cfg.Spam; sp != nil {
		actions := map[string]policy.Action{}
		for k, a := range sp.Actions {
			actions[k] = policy.Action(a)
		}
		opt := spam.Options{URL: sp.URL, Timeout: time.Duration(sp.Timeout), Actions: actions, Log: log}
		if b.Limits != nil {
			opt.Counter = b.Limits // spam_per_hour
		}
		chk := spam.New(opt)
		entries = append(entries, policy.Entry{Check: chk, OnError: policy.Action(sp.OnError)})
		b.Probes["spam"] = chk.Ping
	}
	// Last: it counts at commit what every check before it passed.
	if e, err := CampaignEntry(cfg, res, b.Limits, b.Rules, log); err != nil {
		return nil, err
	} else if e != nil {
		entries = append(entries, *e)
	}
	if cp := cfg.Complaints; cp != nil {
		// Last: it stamps what every check before it accepted.
		stamper, err := ComplaintStamper(cfg, b.Limits)
		if err != nil {
			return nil, err
		}
		entries = append(entries, policy.Entry{Check: stamper, OnError: policy.Tempfail})
	}
	pipeline := policy.NewPipeline(log, entries...).WithCommitTimeout(time.Duration(cfg.CommitTimeout))
	st := &milter.State{
		Pipeline:         pipeline,
		Version:          Version,
		SpoolDir:         cfg.Spool.Dir,
		SpoolLimit:       int64(cfg.Spool.MemoryLimit),
		ProgressInterval: time.Duration(cfg.ProgressInterval),
		MessageTimeout:   time.Duration(cfg.MessageTimeout),
		MaxConnections:   cfg.Milter.MaxConnections,
		ReadTimeout:      time.Duration(cfg.Milter.ReadTimeout),
		IdleTimeout:      time.Duration(cfg.Milter.IdleTimeout),
	}
	if cfg.Header.Enabled {
		st.HeaderName, st.HeaderFull = cfg.Header.Name, cfg.Header.Detail == "full"
	}
	if q := cfg.Quarantine; q != nil {
		st.QuarantineOnFull = policy.Action(q.OnFull)
		if res != nil && res.Quarantine != nil {
			res.Quarantine.SetQuota(int64(q.MaxBytes), int64(q.MaxEntries))
			st.Quarantine = res.Quarantine
			if cfg.Complaints != nil && b.Limits != nil {
				// Released mail is stamped with the account held with it.
				st.Quarantine = res.Quarantine.WithAccounts(b.Limits.AccountOf)
			}
		}
		st.HoldInMTA = q.Mode == "discard+hold"
	}
	if res != nil {
		if res.Store != nil {
			b.Probes["limits store"] = res.Store.Ping
		}
		if res.Quarantine != nil {
			b.Probes["quarantine"] = res.Quarantine.Ping
		}
		if b.Follow = Follower(cfg, log, b.Limits); b.Follow != nil {
			b.Probes["maillog"] = b.Follow.Health
		}
		pipeline.WithObserver(res.Metrics)
		st.Observer = res.Metrics
		res.SpoolBudget.SetMax(int64(cfg.Spool.MaxTotal))
		st.SpoolBudget = res.SpoolBudget
		if b.Rules != nil {
			b.Rules.Observer = res.Metrics
			res.Metrics.RulesLoaded(b.Rules.Set().Version, true)
		}
	}
	b.State = st
	return b, nil
}

// Follower is the mail log follower of cfg feeding eng; nil when no log
// is to be followed.
func Follower(cfg *config.Config, log *slog.Logger, eng *limits.Engine) *limits.Follower {
	l := cfg.Limits
	if l == nil || l.Maillog.Source == "file" && l.Maillog.Path == "" {
		return nil
	}
	return &limits.Follower{Source: l.Maillog.Source, Path: l.Maillog.Path, PosFile: filepath.Join(cfg.StateDir, "maillog.pos"),
		FromStart: l.Maillog.Start == "beginning", Silence: time.Duration(l.Maillog.Silence), Engine: eng, Log: log}
}

// MetricsState is what a metrics scrape reads of res and b.
func (b *Built) MetricsState(res *Resources) func(context.Context) metrics.State {
	return func(ctx context.Context) metrics.State {
		var s metrics.State
		if q := res.Quarantine; q != nil {
			n, bytes, _ := q.Stats(ctx)
			s.QuarantineEntries, s.QuarantineBytes = int64(n), bytes
			s.QuarantineMaxBytes, _ = q.Quota()
		}
		if res.Store != nil {
			all, _ := res.Store.Suspensions(ctx)
			now := time.Now()
			for _, sp := range all {
				if sp.Active(now) {
					s.ActiveSuspensions++
				}
			}
		}
		if b.Clamd != nil {
			s.ClamdVersion = b.Clamd.Version()
		}
		return s
	}
}
