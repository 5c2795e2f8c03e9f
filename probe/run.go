package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// RunScan scans the config's targets and extra ones, with our own canary
// when canary.listen is set, keeps the scan in the state directory, and
// tells the alert what is new or fixed since each target's last known
// state. An unhealthy scan is kept and alerted as such, and declares
// nothing fixed; a scan cut short (ctx, timeouts.scan) is not kept.
func RunScan(ctx context.Context, cfg *Config, extra []netip.Prefix, log *slog.Logger, progress io.Writer) (*Scan, Diff, error) {
	targets := append(prefixes(cfg.Targets), extra...)
	if len(targets) == 0 {
		return nil, Diff{}, errors.New("no targets: give them in the config's targets or on the command line")
	}
	sc := &Scanner{Config: cfg, Log: log, Progress: progress}
	if cfg.Canary.Listen != "" {
		l, err := net.Listen("tcp", cfg.Canary.Listen)
		if err != nil {
			return nil, Diff{}, fmt.Errorf("canary: %w", err)
		}
		// Closed before returning, not when Serve's goroutine gets to it:
		// the next scan in this process listens on the same address.
		defer l.Close()
		// A key of its own for this scan: its tokens are this scan's only.
		can := NewCanary(cfg.Canary.Domain, nil, log)
		cctx, stop := context.WithCancel(context.Background())
		defer stop()
		go can.Serve(cctx, l)
		sc.Canary, sc.Key = can, can.Key
	} else {
		sc.Canary, sc.Key = remoteCanary{cfg.Canary.API, cfg.Canary.Secret}, Key(cfg.Canary.Secret)
	}
	known, err := LoadKnown(cfg.StateDir, log)
	if err != nil {
		return nil, Diff{}, err
	}
	log.Info("scan started", "targets", len(targets), "rate", cfg.Rate, "concurrency", cfg.Concurrency)
	scan, err := sc.Scan(ctx, targets)
	if err != nil {
		return nil, Diff{}, err // a cut-short scan is not kept: its silence would read as "fixed"
	}
	if err := scan.Save(cfg.StateDir); err != nil {
		return nil, Diff{}, err
	}
	d := Compare(known, scan)
	log.Info("scan finished", "findings", len(scan.Findings), "new", len(d.New), "fixed", len(d.Fixed), "file", scan.File,
		"seconds", scan.Finished.Sub(scan.Started).Seconds(), "open", scan.Counts[Open], "closed", scan.Counts[Closed],
		"unreachable", scan.Counts[Unreachable], "error", scan.Counts[Error], "healthy", scan.Healthy())
	for _, p := range scan.Problems {
		log.Error("scan unhealthy: nothing is declared fixed", "problem", p)
	}
	var body []byte
	if len(d.New)+len(d.Fixed)+len(d.Problems) > 0 {
		body, _ = json.Marshal(struct {
			Event   string         `json:"event"`
			Scan    string         `json:"scan"`
			Healthy bool           `json:"healthy"`
			Counts  map[string]int `json:"counts"`
			Diff
		}{"relayprobe", scan.File, scan.Healthy(), scan.Counts, d})
	}
	if err := keepAlert(ctx, cfg, body); err != nil {
		log.Error("alert not kept", "err", err)
	}
	tell(ctx, cfg, log)
	if cfg.Block != nil {
		// The scan is kept whatever happens here: relayprobe block retries.
		if _, err := Enforce(ctx, cfg, time.Now(), false, log); err != nil {
			log.Error("block", "err", err)
		}
	}
	return scan, d, nil
}

// RunCanary runs the canary alone (on a host of its own) until ctx ends:
// SMTP on canary.listen, the scanners' API on canary.api_listen.
func RunCanary(ctx context.Context, cfg *Config, log *slog.Logger) error {
	c := cfg.Canary
	if c.Listen == "" || c.APIListen == "" || c.Secret == "" {
		return errors.New("relayprobe canary needs canary.listen, canary.api_listen and canary.secret (shared with the scanners)")
	}
	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("canary: %w", err)
	}
	can := NewCanary(c.Domain, Key(c.Secret), log)
	srv := &http.Server{Addr: c.APIListen, Handler: can, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 8 << 10}
	errc := make(chan error, 2)
	go func() { errc <- can.Serve(ctx, l) }()
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("canary listening", "smtp", c.Listen, "api", c.APIListen, "domain", c.Domain)
	select {
	case <-ctx.Done():
		srv.Close()
		return nil
	case err := <-errc:
		srv.Close()
		return err
	}
}
