// relayprobe scans the ISP's static customer ranges for open relays and
// open proxies, confirmed by a canary. See relayprobe(8).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"outguard/probe"
)

const usage = `usage:
  relayprobe scan [-config FILE] [-json | -format table|json|xarf] [TARGET ...]
  relayprobe canary [-config FILE]
  relayprobe diff [-config FILE] [-json]
  relayprobe block [-config FILE] [-dry-run] [-json]
  relayprobe blocks [-config FILE] [-json]
  relayprobe listings [-config FILE] [-json]
  relayprobe -check-config [-config FILE]

Exit status: 0 done (scan: nothing confirmed; listings: nothing listed),
1 scan: confirmed findings; listings: addresses listed, 2 error (nothing
kept), 3 scan unhealthy (kept; nothing declared fixed); block: a backend
failed (retried next run); listings: queries failed (their addresses keep
their earlier state) or listings.accounts failed (no accounts named).
`

// Exit statuses: the unit takes 1 as success, 3 as a failed scan.
const (
	exitOK        = 0
	exitConfirmed = 1
	exitError     = 2
	exitUnhealthy = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	top := flag.NewFlagSet("relayprobe", flag.ContinueOnError)
	top.SetOutput(stderr)
	top.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := top.String("config", probe.DefaultPath, "config file")
	check := top.Bool("check-config", false, "check the config and exit")
	if err := top.Parse(args); err != nil {
		return 2
	}
	if *check {
		cfg, err := probe.Load(*cfgPath)
		if err == nil {
			err = cfg.CheckHost()
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		fmt.Fprintf(stdout, "%s: ok\n", *cfgPath)
		return 0
	}
	if top.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	sub := flag.NewFlagSet("relayprobe "+top.Arg(0), flag.ContinueOnError)
	sub.SetOutput(stderr)
	subCfg := sub.String("config", *cfgPath, "config file")
	asJSON := sub.Bool("json", false, "one JSON object per line")
	format := sub.String("format", "table", "table, json or xarf (X-ARF v4, confirmed findings only)")
	dryRun := sub.Bool("dry-run", false, "block: show what would change, change nothing")
	if err := sub.Parse(top.Args()[1:]); err != nil {
		return 2
	}
	if *asJSON {
		*format = "json"
	}
	cfg, err := probe.Load(*subCfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := cfg.Log.New(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal ends the scan within seconds, keeping nothing; a
	// second one kills at once.
	context.AfterFunc(ctx, stop)
	switch top.Arg(0) {
	case "scan":
		extra, err := probe.Prefixes(sub.Args())
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if *format == "xarf" {
			if err := cfg.Reporter.Check(); err != nil {
				fmt.Fprintln(stderr, "relayprobe:", err)
				return 2
			}
		}
		var progress io.Writer
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			progress = stderr // on a terminal only
		}
		scan, _, err := probe.RunScan(ctx, cfg, extra, log, progress)
		if err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		if err := write(stdout, *format, scan.Findings, cfg.Reporter); err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		fmt.Fprintf(stderr, "relayprobe: %s: %d open, %d closed, %d unreachable, %d error\n", scan.File,
			scan.Counts[probe.Open], scan.Counts[probe.Closed], scan.Counts[probe.Unreachable], scan.Counts[probe.Error])
		if !scan.Healthy() {
			for _, p := range scan.Problems {
				fmt.Fprintln(stderr, "relayprobe: scan unhealthy:", p)
			}
			return exitUnhealthy
		}
		for _, f := range scan.Findings {
			if f.Result == probe.Confirmed {
				return exitConfirmed
			}
		}
		return exitOK
	case "canary":
		if err := probe.RunCanary(ctx, cfg, log); err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		return 0
	case "diff":
		cur, d, err := probe.LastDiff(cfg.StateDir, log)
		if err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		if cur == nil {
			fmt.Fprintf(stderr, "relayprobe: no scans in %s yet\n", cfg.StateDir)
			return 2
		}
		if *format == "json" {
			if err := json.NewEncoder(stdout).Encode(d); err != nil {
				return 2
			}
			return 0
		}
		fmt.Fprint(stdout, d.String())
		return 0
	case "block":
		e, err := probe.Enforce(ctx, cfg, time.Now(), *dryRun, log)
		if err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		if *format == "json" {
			json.NewEncoder(stdout).Encode(e)
		} else {
			for _, b := range e.Added {
				fmt.Fprintf(stdout, "block   %s %s until %s: %s\n", b.Addr, orDash(b.Customer), b.Expires.UTC().Format(time.RFC3339), b.Reason())
			}
			for _, b := range e.Extended {
				fmt.Fprintf(stdout, "extend  %s %s until %s: %s\n", b.Addr, orDash(b.Customer), b.Expires.UTC().Format(time.RFC3339), b.Reason())
			}
			for _, b := range e.Lifted {
				fmt.Fprintf(stdout, "lift    %s %s: %s\n", b.Addr, orDash(b.Customer), b.Lifted)
			}
			if *dryRun {
				fmt.Fprintln(stdout, "dry run: nothing changed")
			}
		}
		for _, f := range e.Failures {
			fmt.Fprintln(stderr, "relayprobe: block:", f)
		}
		if len(e.Failures) > 0 {
			return 3
		}
		return 0
	case "blocks":
		bs, err := probe.LoadBlocks(cfg.StateDir)
		if err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		if *format == "json" {
			enc := json.NewEncoder(stdout)
			for _, b := range bs {
				enc.Encode(b)
			}
			return 0
		}
		probe.WriteBlocks(stdout, bs)
		return 0
	case "listings":
		run, err := probe.WatchListings(ctx, cfg, time.Now(), log)
		if err != nil {
			fmt.Fprintln(stderr, "relayprobe:", err)
			return 2
		}
		if *format == "json" {
			probe.WriteListingsJSON(stdout, run)
		} else {
			probe.WriteListings(stdout, run)
		}
		switch {
		case len(run.Errors) > 0:
			return 3
		case len(run.Listed) > 0:
			return 1
		}
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func write(w io.Writer, format string, fs []probe.OpenService, rep probe.Reporter) error {
	switch format {
	case "json":
		return probe.WriteJSON(w, fs)
	case "xarf":
		return probe.WriteXARF(w, fs, rep)
	case "table":
		return probe.WriteTable(w, fs)
	}
	return fmt.Errorf("unknown format %q: want table, json or xarf", format)
}
