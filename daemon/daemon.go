// Package daemon wires milterd together: config to pipeline, listener,
// reload on SIGHUP and graceful stop on SIGTERM.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"outguard/clamd"
	"outguard/config"
	"outguard/limits"
	"outguard/metrics"
	"outguard/milter"
	"outguard/policy"
	"outguard/quarantine"
	"outguard/rules"
	"outguard/scanner"
)

// Version is set at build time with -ldflags "-X outguard/daemon.Version=…".
var Version = "0.1.0-dev"

// Resources are what outlives a reload: the state store.
type Resources struct {
	Store      limits.Store      // nil without a limits section
	Quarantine *quarantine.Store // nil without a quarantine section
	Metrics    *metrics.Metrics
}

// Open opens the resources cfg needs.
func Open(ctx context.Context, cfg *config.Config) (*Resources, error) {
	r := &Resources{Metrics: metrics.New()}
	if l := cfg.Limits; l != nil {
		var err error
		if l.Store == "redis" {
			r.Store, err = limits.OpenRedis(ctx, l.Redis.Address)
		} else {
			if err = os.MkdirAll(cfg.StateDir, 0o700); err == nil {
				r.Store, err = limits.OpenSQLite(filepath.Join(cfg.StateDir, "state.db"))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("limits store: %w", err)
		}
	}
	if cfg.Quarantine != nil {
		q, err := quarantine.Open(cfg.QuarantineDir())
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
	limits *limits.Engine // nil without a limits section
	rules  *rules.Engine  // nil without a rules section
}

func build(cfg *config.Config, log *slog.Logger, res *Resources) (*built, error) {
	b := &built{}
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
		})
		entries = append(entries, policy.Entry{
			Check:   &clamd.Check{Client: client, Limit: int64(cd.MaxStream), OnVirus: policy.Action(cd.OnVirus), Oversize: policy.Action(cd.Oversize)},
			OnError: policy.Action(cd.OnError),
		})
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
	}
	pipeline := policy.NewPipeline(log, entries...)
	st := &milter.State{
		Pipeline:         pipeline,
		Version:          Version,
		SpoolDir:         cfg.Spool.Dir,
		SpoolLimit:       int64(cfg.Spool.MemoryLimit),
		ProgressInterval: time.Duration(cfg.ProgressInterval),
	}
	if cfg.Header.Enabled {
		st.HeaderName = cfg.Header.Name
	}
	if q := cfg.Quarantine; q != nil {
		if res != nil && res.Quarantine != nil {
			st.Quarantine = res.Quarantine
		}
		st.HoldInMTA = q.Mode == "discard+hold"
	}
	if res != nil {
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
	r := cfg.Rules
	set, err := rules.Compile(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	for _, w := range set.Warnings {
		log.Warn("rules: " + w)
	}
	eng := rules.NewEngine(set)
	eng.Timeout = time.Duration(r.Timeout)
	eng.OnLimit, eng.OnMalformed = policy.Action(r.OnLimit), policy.Action(r.OnMalformed)
	eng.Log = log
	eng.Limits = scanner.Limits{
		MaxDepth: r.MaxDepth, MaxMembers: r.MaxMembers, MaxTotal: int64(r.MaxTotal), MaxRatio: int64(r.MaxRatio),
		MaxPart: int64(r.MaxPart), MemoryLimit: int64(cfg.Spool.MemoryLimit), SpoolDir: cfg.Spool.Dir,
	}
	return eng, nil
}

// Engine builds the limits engine of cfg on res's store.
func Engine(cfg *config.Config, log *slog.Logger, res *Resources) (*limits.Engine, error) {
	l := cfg.Limits
	pol, err := LimitsPolicy(l)
	if err != nil {
		return nil, err
	}
	eng := &limits.Engine{
		Policy:      pol,
		OnSuspended: policy.Action(l.OnSuspended),
		SuspendFor:  time.Duration(l.SuspendFor),
		Contact:     l.Contact,
		Alert:       &limits.Alerter{Command: l.Alert.Command, Webhook: l.Alert.Webhook, Timeout: time.Duration(l.Alert.Timeout), Log: log},
		Log:         log,
		Now:         time.Now,
	}
	if res != nil {
		eng.Store = res.Store
		eng.Observer = res.Metrics
	}
	return eng, nil
}

// LimitsPolicy resolves the config's limits: a user's keys override the
// default's; "unlimited" lifts every limit and automatic suspension.
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
		if u.Unlimited {
			users[user] = limits.Limits{}
		} else {
			users[user] = resolve(u.LimitSet, def)
		}
	}
	return limits.NewPolicy(def, users)
}

// Listen opens the milter socket. A unix socket left over from a previous
// run is replaced; any other file at that path is an error.
func Listen(cfg *config.Config) (net.Listener, error) {
	a := cfg.Listen
	if a.Network != "unix" {
		return net.Listen("tcp", a.Addr)
	}
	if fi, err := os.Lstat(a.Addr); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", a.Addr)
		}
		os.Remove(a.Addr)
	}
	ln, err := net.Listen("unix", a.Addr)
	if err != nil {
		return nil, err
	}
	if err := socketPerms(a.Addr, cfg); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func socketPerms(path string, cfg *config.Config) error {
	if cfg.SocketGroup != "" {
		g, err := user.LookupGroup(cfg.SocketGroup)
		if err != nil {
			return fmt.Errorf("socket_group: %w", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, os.FileMode(cfg.SocketMode))
}

// Run serves until ctx is done or SIGTERM/SIGINT arrive; SIGHUP reloads the
// config with load (the file at path with the command line applied). A
// second stop signal exits at once.
func Run(ctx context.Context, path string, load func() (*config.Config, error), cfg *config.Config, log *slog.Logger) error {
	res, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer res.Close()
	b, err := build(cfg, log, res)
	if err != nil {
		return err
	}
	ln, err := Listen(cfg)
	if err != nil {
		return err
	}
	srv := milter.New(log, b.st)
	log.Info("milterd started", "version", Version, "listen", cfg.Listen.String(), "checks", b.st.Pipeline.Names())
	bg := startBackground(ctx, cfg, log, res, b)
	defer func() { bg.stop() }()
	if m := cfg.Metrics; m != nil {
		hs := &http.Server{Addr: m.Listen, Handler: res.Metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		mln, err := net.Listen("tcp", m.Listen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		go hs.Serve(mln)
		defer hs.Close()
		log.Info("metrics on http://"+m.Listen+"/metrics", "healthz", "http://"+m.Listen+"/healthz")
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	for {
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
			return stop(srv, cfg, log, sigs, served)
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				log.Info("stopping: draining sessions", "signal", sig.String(), "deadline", time.Duration(cfg.ShutdownTimeout))
				return stop(srv, cfg, log, sigs, served)
			}
			if next, nb := reload(path, load, cfg, srv, log, res); next != nil {
				cfg = next
				bg.stop()
				bg = startBackground(ctx, cfg, log, res, nb)
			}
		}
	}
}

// reload builds the new state completely and swaps it in only if valid; it
// returns the new config and what was built, or nil when the old one stays.
func reload(path string, load func() (*config.Config, error), old *config.Config, srv *milter.Server, log *slog.Logger, res *Resources) (*config.Config, *built) {
	cfg, err := load()
	if err == nil && storeChanged(old, cfg) {
		err = errors.New("limits store settings (limits section, store, redis, state_dir) change only at restart")
	}
	if err == nil {
		var b *built
		if b, err = build(cfg, log, res); err == nil {
			if cfg.Listen != old.Listen || cfg.Log != old.Log || cfg.SocketMode != old.SocketMode || cfg.SocketGroup != old.SocketGroup {
				log.Warn("reload: listen, socket and log settings take effect at the next restart")
			}
			srv.SetState(b.st)
			log.Info("config reloaded", "path", path, "checks", b.st.Pipeline.Names())
			return cfg, b
		}
	}
	log.Error("reload failed; keeping the running config", "err", err)
	return nil, nil
}

func storeChanged(a, b *config.Config) bool {
	if (a.Limits == nil) != (b.Limits == nil) {
		return true
	}
	if (a.Quarantine == nil) != (b.Quarantine == nil) || a.Quarantine != nil && a.QuarantineDir() != b.QuarantineDir() {
		return true
	}
	return a.Limits != nil && (a.Limits.Store != b.Limits.Store || a.Limits.Redis != b.Limits.Redis || a.StateDir != b.StateDir)
}

// background runs the mail log follower and the store's purge.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startBackground(ctx context.Context, cfg *config.Config, log *slog.Logger, res *Resources, bt *built) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	if re := bt.rules; re != nil && cfg.Rules.Watch {
		wg.Go(func() {
			if err := re.Watch(ctx, cfg.Rules.Dir); err != nil {
				log.Warn("rules: not watching for changes", "dir", cfg.Rules.Dir, "err", err)
			}
		})
	}
	if l := cfg.Limits; l != nil && l.Maillog.Path != "" {
		f := &limits.Follower{Path: l.Maillog.Path, PosFile: filepath.Join(cfg.StateDir, "maillog.pos"), Engine: bt.limits, Log: log}
		wg.Go(func() { f.Run(ctx) })
	} else if l != nil {
		log.Warn("limits.maillog.path not set: recipients that bounce after queueing are not counted")
	}
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Minute)
		defer tick.Stop()
		for {
			purge(ctx, cfg, log, res)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	go func() {
		wg.Wait()
		close(b.done)
	}()
	return b
}

// purge forgets expired counters and quarantine entries.
func purge(ctx context.Context, cfg *config.Config, log *slog.Logger, res *Resources) {
	now := time.Now()
	if res.Store != nil {
		if err := res.Store.Purge(ctx, now); err != nil {
			log.Warn("purging the limits store", "err", err)
		}
	}
	if q := res.Quarantine; q != nil {
		n, err := q.Purge(ctx, now.Add(-time.Duration(cfg.Quarantine.Retention)))
		if err != nil {
			log.Warn("purging the quarantine", "err", err)
		} else if n > 0 {
			log.Info("quarantine purged", "entries", n)
		}
	}
}

func (b *background) stop() {
	b.cancel()
	<-b.done
}

func stop(srv *milter.Server, cfg *config.Config, log *slog.Logger, sigs <-chan os.Signal, served <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	for {
		select {
		case err := <-done:
			<-served
			if errors.Is(err, context.DeadlineExceeded) {
				log.Warn("shutdown deadline passed; closed remaining sessions")
			}
			log.Info("milterd stopped")
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			log.Warn("second signal: exiting now", "signal", sig.String())
			srv.Close()
			return nil
		}
	}
}
