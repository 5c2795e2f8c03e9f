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

// complaintsCmds are the complaints subcommands.
var complaintsCmds = map[string]func(c *kcontext, args []string) error{
	"ingest": complaintsIngest, "list": complaintsList,
}

func complaintsCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	return dispatch("complaints", complaintsCmds, args, func() (*kcontext, func(), error) {
		if cfg.Complaints == nil {
			return nil, nil, errors.New("the config has no complaints section")
		}
		st, eng, err := openLimitsEngine(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			return nil, nil, err
		}
		return &kcontext{ctx: ctx, cfg: cfg, st: st, eng: eng, stdin: os.Stdin, out: out}, func() { st.Close() }, nil
	})
}

// kcontext is what every complaints subcommand works with.
type kcontext struct {
	ctx   context.Context
	cfg   *config.Config
	st    limits.Store
	eng   *limits.Engine
	stdin io.Reader // the report Postfix's pipe(8) gives ingest
	out   io.Writer
}

// complaintsIngest records one report from stdin, or a Maildir's new/
// ones. The alerts of a complaint or a suspension are in the store's
// outbox when it returns: milterd's courier sends them.
func complaintsIngest(c *kcontext, args []string) error {
	var maildir string
	if err := flagsOnly("complaints", args, func(fs *flag.FlagSet) {
		fs.StringVar(&maildir, "maildir", "", "a Maildir whose new/ messages are ingested and moved to cur/")
	}); err != nil {
		return err
	}
	in, err := setup.ComplaintIngester(c.cfg, c.eng)
	if err != nil {
		return err
	}
	out := c.out
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
	if maildir != "" {
		return in.Maildir(c.ctx, maildir, report)
	}
	r, err := in.Ingest(c.ctx, c.stdin)
	if err != nil {
		return err
	}
	report("", r)
	return nil
}

func complaintsList(c *kcontext, args []string) error {
	var since, account string
	var unattr, asJSON bool
	if err := flagsOnly("complaints", args, func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "7d", "how far back")
		fs.StringVar(&account, "account", "", "this account's only")
		fs.BoolVar(&unattr, "unattributable", false, "unattributable reports only")
		fs.BoolVar(&asJSON, "json", false, "JSON lines")
	}); err != nil {
		return err
	}
	d, err := config.ParseDuration(since)
	if err != nil {
		return usageError(fmt.Sprintf("complaints list --since %q: want a duration such as 7d", since))
	}
	cs, err := c.st.Complaints(c.ctx, account, time.Now().Add(-d))
	if err != nil {
		return err
	}
	out := c.out
	enc := json.NewEncoder(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "TIME\tKIND\tACCOUNT\tQUEUE ID\tREPORTER\tSUBJECT / PROBLEM")
	}
	for _, c := range cs {
		if unattr && c.Account != "" {
			continue
		}
		if asJSON {
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
