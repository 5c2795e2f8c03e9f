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
// tells the alert what is new or fixed since the previous scan.
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
		can := NewCanary(cfg.Canary.Domain, cfg.Canary.Secret, log)
		cctx, stop := context.WithCancel(context.Background())
		defer stop()
		go can.Serve(cctx, l)
		sc.Canary, sc.Secret = can, can.Secret
	} else {
		sc.Canary, sc.Secret = remoteCanary{cfg.Canary.API, cfg.Canary.Secret}, cfg.Canary.Secret
	}
	prev, err := LastScans(cfg.StateDir, 1)
	if err != nil {
		return nil, Diff{}, err
	}
	scan := &Scan{Started: time.Now().UTC(), Targets: targets, Exclude: prefixes(cfg.Exclude), Ports: cfg.Ports}
	log.Info("scan started", "targets", len(targets), "rate", cfg.Rate, "concurrency", cfg.Concurrency)
	scan.Findings, err = sc.Scan(ctx, targets)
	scan.Finished = time.Now().UTC()
	if err != nil {
		return nil, Diff{}, err // a cut-short scan is not kept: its silence would read as "fixed"
	}
	if err := scan.Save(cfg.StateDir); err != nil {
		return nil, Diff{}, err
	}
	var last *Scan
	if len(prev) > 0 {
		last = prev[0]
	}
	d := Compare(last, scan)
	log.Info("scan finished", "findings", len(scan.Findings), "new", len(d.New), "fixed", len(d.Fixed), "file", scan.File,
		"seconds", scan.Finished.Sub(scan.Started).Seconds())
	if s := cfg.Alert.Sender(); s.Enabled() && len(d.New)+len(d.Fixed) > 0 {
		body, _ := json.Marshal(struct {
			Event string `json:"event"`
			Scan  string `json:"scan"`
			Diff
		}{"relayprobe", scan.File, d})
		if err := s.Send(ctx, body); err != nil {
			log.Error("alert failed", "err", err)
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
	can := NewCanary(c.Domain, c.Secret, log)
	srv := &http.Server{Addr: c.APIListen, Handler: can, ReadHeaderTimeout: 10 * time.Second}
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
