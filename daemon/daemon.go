// Package daemon is milterd's lifecycle: listener, background work, reload
// on SIGHUP and graceful stop on SIGTERM. What runs is built in setup.
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
	"strings"
	"sync"
	"syscall"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/milter"
	"outguard/setup"
)

// Run serves until ctx is done or SIGTERM/SIGINT arrive; SIGHUP reloads the
// config with load (the file at path with the command line applied). A
// second stop signal exits at once.
func Run(ctx context.Context, path string, load func() (*config.Config, error), cfg *config.Config, log *slog.Logger) error {
	res, err := setup.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer res.Close()
	b, err := setup.Build(cfg, log, res)
	if err != nil {
		return err
	}
	res.Metrics.SetProbes(b.Probes)
	res.Metrics.SetState(b.MetricsState(res))
	// Metrics first: when the MTA can connect, /readyz answers too.
	if m := cfg.Metrics; m != nil {
		// Every phase of a connection is bounded: a client that drips
		// its request or keeps an idle connection open holds a
		// descriptor for at most these.
		hs := &http.Server{Addr: m.Listen, Handler: res.Metrics.Handler(), ReadHeaderTimeout: time.Duration(m.ReadTimeout),
			ReadTimeout: time.Duration(m.ReadTimeout), WriteTimeout: time.Duration(m.WriteTimeout), IdleTimeout: time.Duration(m.IdleTimeout),
			MaxHeaderBytes: 64 << 10}
		mln, err := net.Listen("tcp", m.Listen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		go hs.Serve(mln)
		defer hs.Close()
		log.Info("metrics on http://"+m.Listen+"/metrics", "healthz", "http://"+m.Listen+"/healthz", "readyz", "http://"+m.Listen+"/readyz")
	}
	ln, err := Listen(cfg)
	if err != nil {
		return err
	}
	srv := milter.New(log, b.State)
	// Signals are caught before "milterd started" is logged: a SIGHUP
	// sent by whoever waits for that line would otherwise kill milterd
	// (the default action) instead of reloading it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	log.Info("milterd started", "version", setup.Version, "listen", cfg.Listen.String(), "checks", b.State.Pipeline.Names())
	bg := startBackground(ctx, cfg, log, res, b)
	defer func() { bg.stop() }()
	// Each state built (the first, and one per reload) has its limits
	// alerter; the alerts still waiting in one for the store at the end
	// are logged as lost.
	var alerters []*limits.Alerter
	keep := func(b *setup.Built) {
		if b.Limits != nil {
			alerters = append(alerters, b.Limits.Alert)
		}
	}
	keep(b)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), alertDrain)
		defer cancel()
		for _, a := range alerters {
			a.Stop(ctx)
		}
	}()

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
				keep(nb)
				bg.stop()
				bg = startBackground(ctx, cfg, log, res, nb)
			}
		}
	}
}

// alertDrain is how long a stopping milterd gives the limit alerts still
// in its buffer to reach the store (limits.Alerter.Stop).
const alertDrain = 5 * time.Second

// reload builds the new state completely and swaps it in only if valid; it
// returns the new config and what was built, or nil when the old one stays.
func reload(path string, load func() (*config.Config, error), old *config.Config, srv *milter.Server, log *slog.Logger, res *setup.Resources) (*config.Config, *setup.Built) {
	cfg, err := load()
	if err == nil {
		if keys := restartOnly(old, cfg); len(keys) > 0 {
			err = fmt.Errorf("%s changed: these take effect only at a restart (systemctl restart milterd); nothing of this reload was applied", strings.Join(keys, ", "))
		}
	}
	if err == nil {
		var b *setup.Built
		if b, err = setup.Build(cfg, log, res); err == nil {
			srv.SetState(b.State)
			res.Metrics.SetProbes(b.Probes)
			res.Metrics.SetState(b.MetricsState(res))
			res.Metrics.ConfigReloaded(true)
			log.Info("config reloaded", "path", path, "checks", b.State.Pipeline.Names())
			return cfg, b
		}
	}
	log.Error("reload failed; keeping the running config", "err", err)
	res.Metrics.ConfigReloaded(false)
	return nil, nil
}

// restartOnly names the settings that differ between a and b and that
// the running process cannot change: the listener, the log, and the stores
// opened at start (a reload that switched the quarantine to PostgreSQL and
// reported success would keep holding mail where the fleet's reviewers
// never look). A reload that changes any of them is refused as a whole.
func restartOnly(a, b *config.Config) []string {
	var keys []string
	add := func(changed bool, key string) {
		if changed {
			keys = append(keys, key)
		}
	}
	add(a.Listen != b.Listen, "listen")
	add(a.SocketMode != b.SocketMode || a.SocketGroup != b.SocketGroup, "socket_mode/socket_group")
	add(a.Log != b.Log, "log")
	add((a.Limits == nil) != (b.Limits == nil), "limits (section added or removed)")
	if a.Limits != nil && b.Limits != nil {
		add(a.Limits.Store != b.Limits.Store, "limits.store")
		add(a.Limits.Redis != b.Limits.Redis, "limits.redis")
		add(a.StateDir != b.StateDir, "state_dir")
	}
	add((a.Quarantine == nil) != (b.Quarantine == nil), "quarantine (section added or removed)")
	if a.Quarantine != nil && b.Quarantine != nil {
		add(a.Quarantine.Store != b.Quarantine.Store, "quarantine.store")
		add(a.Quarantine.Store == "local" && a.QuarantineDir() != b.QuarantineDir(), "quarantine.dir")
	}
	add((a.Postgres == nil) != (b.Postgres == nil) || a.Postgres != nil && *a.Postgres != *b.Postgres, "postgres")
	add((a.Metrics == nil) != (b.Metrics == nil) || a.Metrics != nil && *a.Metrics != *b.Metrics, "metrics")
	return keys
}

// background runs the mail log follower and the store's purge.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startBackground(ctx context.Context, cfg *config.Config, log *slog.Logger, res *setup.Resources, bt *setup.Built) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	if re := bt.Rules; re != nil && cfg.Rules.Watch {
		wg.Go(func() {
			if err := re.Watch(ctx, cfg.Rules.Dir); err != nil {
				log.Warn("rules: not watching for changes", "dir", cfg.Rules.Dir, "err", err)
			}
		})
	}
	if f := bt.Follow; f != nil {
		res.Metrics.SetMaillogBehind(f.Lag)
		wg.Go(func() { f.Run(ctx) })
	} else if cfg.Limits != nil {
		log.Warn("limits.maillog.path not set: recipients that bounce after queueing are not counted")
	}
	if c := setup.Courier(cfg, res.Store, log); c != nil {
		wg.Go(func() { c.Run(ctx) }) // the alerts' outbox
	}
	if c := setup.Containment(cfg, res.Store, log); c != nil && cfg.Limits.OnSuspendQueued != "keep" {
		// The queue follows suspensions. postsuper needs root; the
		// shipped unit runs milterd as outguard with NoNewPrivileges (no
		// sudo), so there outguard-containment.service does it.
		if os.Geteuid() == 0 {
			wg.Go(func() { c.Run(ctx) })
		} else {
			log.Info("containment: not root; suspended accounts' queued mail is held by \"milterctl accounts contain\" (outguard-containment.service; on Sendmail it must run as root)")
		}
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
func purge(ctx context.Context, cfg *config.Config, log *slog.Logger, res *setup.Resources) {
	now := time.Now()
	if res.Store != nil {
		if err := res.Store.Purge(ctx, now); err != nil {
			log.Warn("purging the limits store", "err", err)
		}
		if _, err := limits.AuditExpiries(ctx, res.Store, now); err != nil {
			log.Warn("audit trail: recording expired suspensions", "err", err)
		}
	}
	if q := res.Quarantine; q != nil {
		n, err := q.Purge(ctx, now.Add(-time.Duration(cfg.Quarantine.Retention)), "")
		if err != nil {
			log.Warn("purging the quarantine", "err", err)
		} else if n > 0 {
			log.Info("quarantine purged", "entries", n)
		}
		// Files a crash left without an entry (at start, then at each
		// purge); those younger than orphanAge may be a hold in progress.
		removed, bytes, err := q.SweepOrphans(ctx, now.Add(-orphanAge))
		if err != nil {
			log.Warn("sweeping orphan quarantine files", "err", err)
		}
		if removed > 0 {
			log.Warn("quarantine: removed message files no entry holds (left by a crash; their clients were tempfailed and send again)", "files", removed, "bytes", bytes)
		}
	}
}

// orphanAge is how old a quarantine file without an entry must be to be
// swept: a hold writes its file, then its record, within seconds.
const orphanAge = 5 * time.Minute

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
