package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"outguard/complaint"
	"outguard/config"
	"outguard/limits"
	"outguard/setup"
)

// exTempfail is sysexits.h's EX_TEMPFAIL: Postfix's pipe(8) defers the
// report and delivers it again later, so a complaint is never lost to a
// store that was down; any other failure status would bounce it.
const exTempfail = 75

// complaintsCmd runs complaints ingest and complaints list.
func complaintsCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	if cfg.Complaints == nil {
		return errors.New("the config has no complaints section")
	}
	st, err := setup.OpenLimitsStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := setup.LimitsEngine(cfg, st, log)
	if err != nil {
		return err
	}
	switch args[0] {
	case "ingest":
		in, err := setup.ComplaintIngester(cfg, eng)
		if err != nil {
			return err
		}
		// The alerts of a complaint or a suspension are in the store's
		// outbox when ingest returns: milterd's courier sends them.
		return ingest(ctx, in, args[1:], os.Stdin, out)
	case "list":
		return complaintsList(ctx, st, args[1:], out)
	}
	return usageError("unknown command complaints " + args[0])
}

func ingest(ctx context.Context, in *complaint.Ingester, args []string, stdin io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("complaints ingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	maildir := fs.String("maildir", "", "a Maildir whose new/ messages are ingested and moved to cur/")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError("complaints ingest [--maildir DIR]")
	}
	report := func(name string, r complaint.Result) {
		c := r.Complaint
		what := "unattributable (" + c.Problem + ")"
		if c.Account != "" {
			what = "account " + c.Account + " (" + c.Host + " " + c.QueueID + ")"
		}
		switch {
		case r.Dropped:
			what += ", not recorded: " + limits.ErrUnattributableFull.Error()
		case !r.New:
			what += ", recorded before: not counted again"
		}
		if r.Suspension != nil {
			what += "; suspended: " + r.Suspension.Reason
		}
		if name != "" {
			name += ": "
		}
		fmt.Fprintf(out, "%s%s %s: %s\n", field(name), c.Kind, field(c.ID), field(what))
	}
	if *maildir != "" {
		return in.Maildir(ctx, *maildir, report)
	}
	r, err := in.Ingest(ctx, stdin)
	if err != nil {
		return err
	}
	report("", r)
	return nil
}

func complaintsList(ctx context.Context, st limits.Store, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("complaints list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	since := fs.String("since", "7d", "how far back")
	account := fs.String("account", "", "this account's only")
	unattr := fs.Bool("unattributable", false, "unattributable reports only")
	asJSON := fs.Bool("json", false, "JSON lines")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return usageError("complaints list [--since 7d] [--account A | --unattributable] [--json]")
	}
	d, err := config.ParseDuration(*since)
	if err != nil {
		return usageError(fmt.Sprintf("complaints list --since %q: want a duration such as 7d", *since))
	}
	cs, err := st.Complaints(ctx, *account, time.Now().Add(-d))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "TIME\tKIND\tACCOUNT\tQUEUE ID\tREPORTER\tSUBJECT / PROBLEM")
	}
	for _, c := range cs {
		if *unattr && c.Account != "" {
			continue
		}
		if *asJSON {
			if err := enc.Encode(c); err != nil {
				return err
			}
			continue
		}
		detail := c.Subject
		if c.Account == "" {
			detail = c.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Time.Local().Format(time.DateTime), field(c.Kind),
			field(orDash(c.Account)), field(orDash(c.QueueID)), field(orDash(c.Reporter)), field(strings.ReplaceAll(detail, "\t", " ")))
	}
	return tw.Flush()
}

// complaintLines lists an account's complaints in accounts show.
func complaintLines(out io.Writer, cs []limits.Complaint) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, c := range cs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Time.Local().Format(time.DateTime), field(c.Kind), field(orDash(c.Feedback)),
			field(orDash(c.QueueID)), field(orDash(c.Reporter)), field(orDash(c.Subject)))
	}
	tw.Flush()
}
