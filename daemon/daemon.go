// Package daemon wires milterd together: config to pipeline, listener,
// reload on SIGHUP and graceful stop on SIGTERM.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"outguard/clamd"
	"outguard/config"
	"outguard/milter"
	"outguard/policy"
)

// Version is set at build time with -ldflags "-X outguard/daemon.Version=…".
var Version = "0.1.0-dev"

// Build turns a config into a ready milter state. Everything that can fail
// fails here, so that a reload either swaps in a complete state or none.
func Build(cfg *config.Config, log *slog.Logger) (*milter.State, error) {
	entries := []policy.Entry{{
		Check:   &policy.Unauthenticated{Action: policy.Action(cfg.Unauthenticated), Trusted: cfg.Networks()},
		OnError: policy.Tempfail,
	}}
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
	st := &milter.State{
		Pipeline:         policy.NewPipeline(log, entries...),
		Version:          Version,
		SpoolDir:         cfg.Spool.Dir,
		SpoolLimit:       int64(cfg.Spool.MemoryLimit),
		ProgressInterval: time.Duration(cfg.ProgressInterval),
	}
	if cfg.Header.Enabled {
		st.HeaderName = cfg.Header.Name
	}
	return st, nil
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
// config from path. A second stop signal exits at once.
func Run(ctx context.Context, path string, cfg *config.Config, log *slog.Logger) error {
	st, err := Build(cfg, log)
	if err != nil {
		return err
	}
	ln, err := Listen(cfg)
	if err != nil {
		return err
	}
	srv := milter.New(log, st)
	log.Info("milterd started", "version", Version, "listen", cfg.Listen.String(), "checks", st.Pipeline.Names())

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
			cfg = reload(path, cfg, srv, log)
		}
	}
}

// reload builds the new state completely and swaps it in only if valid.
func reload(path string, old *config.Config, srv *milter.Server, log *slog.Logger) *config.Config {
	cfg, err := config.Load(path)
	if err == nil {
		var st *milter.State
		if st, err = Build(cfg, log); err == nil {
			if cfg.Listen != old.Listen || cfg.Log != old.Log || cfg.SocketMode != old.SocketMode || cfg.SocketGroup != old.SocketGroup {
				log.Warn("reload: listen, socket and log settings take effect at the next restart")
			}
			srv.SetState(st)
			log.Info("config reloaded", "path", path, "checks", st.Pipeline.Names())
			return cfg
		}
	}
	log.Error("reload failed; keeping the running config", "err", err)
	return old
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
