package daemon

import (
	"context"
	"errors"
	"log/slog"
	"outguard/clamd"
	"outguard/config"
	"outguard/limits"
	"outguard/metrics"
	"outguard/milter"
	"outguard/policy"
	"outguard/quarantine"
	"outguard/rules"
	"time"
)

// Resources are what outlives a reload: the state store.
type Resources struct {
	Store      limits.Store      // nil without a limits section
	Quarantine *quarantine.Store // nil without a quarantine section
	Metrics    *metrics.Metrics
}

// Open opens the resources cfg needs.
func Open(ctx context.Context, cfg *config.Config) (*Resources, error) {
	r := &Resources{Metrics: metrics.New()}
	if cfg.Limits != nil {
		var err error
		if r.Store, err = limits.OpenStore(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Quarantine != nil {
		q, err := quarantine.OpenConfig(ctx, cfg)
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

// Build turns a config into a ready milter state. Everything that can fail
// fails here, so that a reload either swaps in a complete state or none.
// res may be nil to validate a config without opening anything.
func Build(cfg *config.Config, log *slog.Logger, res *Resources) (*milter.State, error) {
	b, err := build(cfg, log, res)
	if err != nil {
		return nil, err
	}
	return b.st, nil
}

// built is a state with the engines the background work also drives: the
// mail log follower feeds the limits engine, the watcher reloads the rules.
type built struct {
	st     *milter.State
	probes map[string]metrics.Probe // for /readyz
	clamd  *clamd.Check             // nil without a clamd section
	limits *limits.Engine           // nil without a limits section
	rules  *rules.Engine            // nil without a rules section
}

func build(cfg *config.Config, log *slog.Logger, res *Resources) (*built, error) {
	b := &built{probes: map[string]metrics.Probe{}}
	entries := []policy.Entry{{
		Check:   &policy.Unauthenticated{Action: policy.Action(cfg.Unauthenticated), Trusted: cfg.Networks()},
		OnError: policy.Tempfail,
	}}
	if l := cfg.Limits; l != nil {
		var err error
		if b.limits, err = Engine(cfg, log, res); err != nil {
			return nil, err
		}
		entries = append(entries, policy.Entry{Check: b.limits, OnError: policy.Action(l.OnError)})
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
		b.probes["clamd"] = client.Health
		b.clamd = chk
	} else {
		log.Warn("no clamd section: messages are not scanned for malware")
	}
	// After clamd: its verdict is collected first, from the stream it fed
	// while the message arrived.
	if r := cfg.Rules; r != nil {
		var err error
		if b.rules, err = RulesEngine(cfg, log); err != nil {
			return nil, err
		}
		entries = append(entries, policy.Entry{Check: b.rules, OnError: policy.Action(r.OnError)})
		eng := b.rules
		b.probes["rules"] = func(context.Context) error {
			if eng.Set() == nil {
				return errors.New("no rule set loaded")
			}
			return nil
		}
	}
	pipeline := policy.NewPipeline(log, entries...).WithCommitTimeout(time.Duration(cfg.CommitTimeout))
	st := &milter.State{
		Pipeline:         pipeline,
		Version:          Version,
		SpoolDir:         cfg.Spool.Dir,
		SpoolLimit:       int64(cfg.Spool.MemoryLimit),
		ProgressInterval: time.Duration(cfg.ProgressInterval),
		MessageTimeout:   time.Duration(cfg.MessageTimeout),
	}
	if cfg.Header.Enabled {
		st.HeaderName, st.HeaderFull = cfg.Header.Name, cfg.Header.Detail == "full"
	}
	if q := cfg.Quarantine; q != nil {
		st.QuarantineOnFull = policy.Action(q.OnFull)
		if res != nil && res.Quarantine != nil {
			res.Quarantine.SetQuota(int64(q.MaxBytes), int64(q.MaxEntries))
			st.Quarantine = res.Quarantine
		}
		st.HoldInMTA = q.Mode == "discard+hold"
	}
	if res != nil {
		if res.Store != nil {
			b.probes["limits store"] = res.Store.Ping
		}
		if res.Quarantine != nil {
			b.probes["quarantine"] = res.Quarantine.Ping
		}
		pipeline.WithObserver(res.Metrics)
		st.Observer = res.Metrics
		if b.rules != nil {
			b.rules.Observer = res.Metrics
			res.Metrics.RulesLoaded(b.rules.Set().Version, true)
		}
	}
	b.st = st
	return b, nil
}

// RulesEngine compiles cfg's YARA rules into an engine.
func RulesEngine(cfg *config.Config, log *slog.Logger) (*rules.Engine, error) {
	return rules.NewEngineFromConfig(cfg, log)
}

// Engine builds the limits engine of cfg on res's store.
func Engine(cfg *config.Config, log *slog.Logger, res *Resources) (*limits.Engine, error) {
	var store limits.Store
	if res != nil {
		store = res.Store
	}
	eng, err := limits.NewEngineFromConfig(cfg, store, log)
	if err == nil && res != nil {
		eng.Observer = res.Metrics
	}
	return eng, err
}

// state is what a metrics scrape reads of res and b.
func (b *built) state(res *Resources) func(context.Context) metrics.State {
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
		if b.clamd != nil {
			s.ClamdVersion = b.clamd.Version()
		}
		return s
	}
}
