package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/mimewalk"
	"outguard/quarantine"
	"outguard/setup"
)

// quarantineCmds are the quarantine subcommands, each with its own flags.
var quarantineCmds = map[string]func(q *qcontext, args []string) error{
	"list": quarantineList, "show": quarantineShow, "raw": quarantineRaw,
	"release": quarantineRelease, "resolve": quarantineResolve, "digest": quarantineDigest,
	"delete": quarantineDelete, "purge": quarantinePurge, "audit": quarantineAudit,
	"migrate": quarantineMigrate,
}

func quarantineCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	return dispatch("quarantine", quarantineCmds, args, func() (*qcontext, func(), error) {
		if cfg.Quarantine == nil {
			return nil, nil, errors.New("the config has no quarantine section")
		}
		q, err := setup.OpenQuarantine(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return &qcontext{ctx: ctx, cfg: cfg, q: q, out: out}, func() { q.Close() }, nil
	})
}

// qcontext is what every quarantine subcommand works with.
type qcontext struct {
	ctx context.Context
	cfg *config.Config
	q   *quarantine.Store
	out io.Writer // the bytes as they are (raw and JSON output)
}

// text is the output for people: control characters from messages
// escaped.
func (c *qcontext) text() io.Writer { return terminal{c.out} }

// since parses --since: entries from then on, over that period (24h when
// not given).
func since(s string) (after time.Time, period time.Duration, err error) {
	period = 24 * time.Hour
	if s == "" {
		return time.Time{}, period, nil
	}
	if period, err = config.ParseDuration(s); err != nil {
		return time.Time{}, 0, usageError(err.Error())
	}
	return time.Now().Add(-period), period, nil
}

func (c *qcontext) audit(action, id, outcome string) {
	if err := c.q.Audit(c.ctx, operator(), action, id, outcome); err != nil {
		fmt.Fprintln(c.text(), "warning: audit trail:", err)
	}
}

func quarantineList(c *qcontext, args []string) error {
	var asJSON bool
	var f quarantine.Filter
	var sinceFlag string
	if err := flagsOnly("quarantine", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.StringVar(&f.User, "user", "", "only this account")
		fs.StringVar(&f.Reason, "reason", "", "only entries whose reason contains this")
		fs.StringVar(&f.Finding, "rule", "", "only entries with a finding of this rule or signature")
		fs.StringVar(&sinceFlag, "since", "", "only entries newer than this, e.g. 24h")
		fs.StringVar(&f.State, "state", "", "only entries in this state: held, released, deleted")
	}); err != nil {
		return err
	}
	var err error
	if f.Since, _, err = since(sinceFlag); err != nil {
		return err
	}
	recs, err := c.q.List(c.ctx, f)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(c.out).Encode(recs)
	}
	tw := tabwriter.NewWriter(c.text(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tHOST\tUSER\tSENDER\tRCPTS\tSIZE\tSTATE\tREASON")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", field(r.ID), r.Time.Local().Format(time.DateTime), field(orDash(r.Host)), field(orDash(r.User)), field(r.From), len(r.Rcpts), r.Size, field(r.State), field(r.Reason))
	}
	return tw.Flush()
}

func quarantineShow(c *qcontext, args []string) error {
	id, asJSON, err := oneArg("quarantine", "id", args)
	if err != nil {
		return err
	}
	out := c.out
	if !asJSON {
		out = c.text()
	}
	return showEntry(c.ctx, c.q, id, setup.WalkLimits(c.cfg), asJSON, out)
}

func quarantineRaw(c *qcontext, args []string) error {
	pos, err := subFlags("quarantine", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("quarantine raw takes one id")
	}
	r, _, err := c.q.Reader(c.ctx, pos[0])
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(c.out, r)
	return err
}

func quarantineRelease(c *qcontext, args []string) error {
	var to string
	pos, err := subFlags("quarantine", args, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "release to this recipient instead of the original ones")
	})
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("quarantine release takes ids")
	}
	var rcpts []string
	if to != "" {
		rcpts = []string{to}
	}
	var failed []error
	for _, id := range pos {
		outcome, err := newActions(c.cfg, c.q, nil).release(c.ctx, id, operator(), rcpts)
		if err != nil {
			failed = append(failed, err)
		}
		fmt.Fprintf(c.text(), "%s: %s\n", field(id), field(outcome))
	}
	return errors.Join(failed...)
}

func quarantineDigest(c *qcontext, args []string) error {
	var asJSON, mail bool
	var sinceFlag string
	if err := flagsOnly("quarantine", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.BoolVar(&mail, "mail", false, "mail it to quarantine.digest_to")
		fs.StringVar(&sinceFlag, "since", "", "the period, e.g. 24h (default 24h)")
	}); err != nil {
		return err
	}
	_, period, err := since(sinceFlag)
	if err != nil {
		return err
	}
	out := c.out
	if !asJSON {
		out = c.text()
	}
	return digestCmd(c.ctx, c.cfg, c.q, period, asJSON, mail, out)
}

func quarantineResolve(c *qcontext, args []string) error {
	var force string
	pos, err := subFlags("quarantine", args, func(fs *flag.FlagSet) {
		fs.StringVar(&force, "force", "", "the operator whose release is still within its lease")
	})
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("quarantine resolve takes an id and released or held")
	}
	outcome, err := newActions(c.cfg, c.q, nil).resolve(c.ctx, pos[0], pos[1], operator(), force)
	fmt.Fprintf(c.text(), "%s: %s\n", pos[0], outcome)
	return err
}

func quarantineDelete(c *qcontext, args []string) error {
	pos, err := subFlags("quarantine", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("quarantine delete takes ids")
	}
	var failed []error
	for _, id := range pos {
		outcome, err := newActions(c.cfg, c.q, nil).Delete(c.ctx, id, operator())
		if err != nil {
			failed = append(failed, err)
		}
		fmt.Fprintf(c.text(), "%s: %s\n", id, outcome)
	}
	return errors.Join(failed...)
}

func quarantineAudit(c *qcontext, args []string) error {
	var asJSON bool
	var sinceFlag string
	pos, err := subFlags("quarantine", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.StringVar(&sinceFlag, "since", "", "only entries newer than this, e.g. 24h")
	})
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("quarantine audit takes at most one id")
	}
	after, _, err := since(sinceFlag)
	if err != nil {
		return err
	}
	entries, err := c.q.AuditLog(c.ctx, after, strings.Join(pos, ""))
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(c.out).Encode(entries)
	}
	tw := tabwriter.NewWriter(c.text(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tHOST\tOPERATOR\tACTION\tID\tOUTCOME")
	for _, a := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.Local().Format(time.DateTime), field(a.Host), field(a.Operator), field(a.Action), field(a.ID), field(a.Outcome))
	}
	return tw.Flush()
}

func quarantineMigrate(c *qcontext, args []string) error {
	var dir string
	if err := flagsOnly("quarantine", args, func(fs *flag.FlagSet) {
		fs.StringVar(&dir, "from", "", "the local quarantine's directory (default: quarantine.dir)")
	}); err != nil {
		return err
	}
	if c.cfg.Quarantine.Store != "postgres" {
		return errors.New("quarantine migrate copies the local quarantine into the shared one: set quarantine.store: postgres first")
	}
	if dir == "" {
		dir = c.cfg.QuarantineDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "index.db")); err != nil {
		return fmt.Errorf("no local quarantine in %s: %w", dir, err)
	}
	local, err := quarantine.Open(dir)
	if err != nil {
		return err
	}
	defer local.Close()
	local.Host = c.q.Host
	out := c.text()
	n, err := quarantine.Migrate(c.ctx, local, c.q, operator(), func(m quarantine.Migrated) {
		fmt.Fprintf(out, "%s: %s\n", m.ID, m.Outcome)
	})
	fmt.Fprintf(out, "%d entries copied from %s\n", n, dir)
	return err
}

func quarantinePurge(c *qcontext, args []string) error {
	var user, olderThan string
	if err := flagsOnly("quarantine", args, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "only this account's entries (all of them, unless --older-than)")
		fs.StringVar(&olderThan, "older-than", "", "purge entries older than this (default: retention)")
	}); err != nil {
		return err
	}
	keep := time.Duration(c.cfg.Quarantine.Retention)
	if olderThan != "" {
		var err error
		if keep, err = config.ParseDuration(olderThan); err != nil {
			return usageError(err.Error())
		}
	}
	if user != "" && olderThan == "" {
		keep = 0 // an account's entries: all of them, unless --older-than
	}
	n, err := c.q.Purge(c.ctx, time.Now().Add(-keep), user)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%d entries older than %v", n, keep)
	if user != "" {
		what += " of " + user
	}
	c.audit("purge", "*", what)
	fmt.Fprintf(c.text(), "purged %s\n", what)
	return nil
}

// showEntry prints a held message: its record, and the parts and archive
// members as the scanner walked them (same walker, same limits), with the
// walk's findings on each.
func showEntry(ctx context.Context, q *quarantine.Store, id string, lim mimewalk.Limits, asJSON bool, out io.Writer) error {
	rec, err := q.Get(ctx, id)
	if err != nil {
		return err
	}
	data, _, msgErr := q.Message(ctx, id)
	var parts []mimewalk.Part
	var other []mimewalk.Anomaly
	var header string
	if msgErr == nil {
		parts, other, _ = mimewalk.Parts(ctx, bytes.NewReader(data), int64(len(data)), lim)
		header, _, _ = strings.Cut(string(data), "\r\n\r\n")
	}
	if asJSON {
		v := struct {
			quarantine.Record
			Headers      string             `json:"headers,omitempty"`
			Parts        []mimewalk.Part    `json:"parts,omitempty"`
			WalkFindings []mimewalk.Anomaly `json:"walk_findings,omitempty"`
			Problem      string             `json:"problem,omitempty"`
		}{Record: rec, Headers: header, Parts: parts, WalkFindings: other}
		if msgErr != nil {
			v.Problem = msgErr.Error()
		}
		return json.NewEncoder(out).Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%s\nState:\t%s\nTime:\t%s\nHost:\t%s\nQueue ID:\t%s\nUser:\t%s\nClient:\t%s\nSender:\t%s\nRecipients:\t%s\nSize:\t%d\nSHA-256:\t%s\nReason:\t%s\n",
		field(rec.ID), field(rec.State), rec.Time.Local().Format(time.DateTime), field(orDash(rec.Host)), field(rec.QueueID), field(orDash(rec.User)), field(rec.Client), field(rec.From), field(strings.Join(rec.Rcpts, ", ")), rec.Size, field(rec.SHA256), field(rec.Reason))
	if c := rec.Release; c != nil && rec.State == quarantine.Released {
		fmt.Fprintf(tw, "Released:\tby %s at %s", field(c.Operator), c.Started.Local().Format(time.DateTime))
		if len(c.To) > 0 {
			fmt.Fprintf(tw, " to %s instead of the original recipients", field(strings.Join(c.To, ", ")))
		}
		fmt.Fprintln(tw)
	}
	if c := rec.Release; c != nil && rec.State == quarantine.Releasing {
		fmt.Fprintf(tw, "Release:\tby %s since %s", field(c.Operator), c.Started.Local().Format(time.DateTime))
		if c.Outcome != "" {
			fmt.Fprintf(tw, ", outcome unknown (%s): %s", field(c.Outcome), field(c.Unknown(rec.ID)))
		} else if time.Now().After(c.Lease) {
			fmt.Fprintf(tw, ", did not finish (lease ended %s): resolve it", c.Lease.Local().Format(time.DateTime))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(out, "\nFindings:")
	for _, f := range rec.Findings {
		fmt.Fprintf(out, "  %s\n", field(f.Summary()))
	}
	if msgErr != nil {
		fmt.Fprintf(out, "\nMessage: %v\n", msgErr)
		return nil
	}
	fmt.Fprintf(out, "\nHeaders:\n%s\n\nParts:\n", indent(header))
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, p := range parts {
		var notes []string
		for _, f := range p.Anomalies {
			notes = append(notes, f.Kind+": "+f.Detail)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", field(p.Path), field(p.ContentType), field(orDash(p.Filename)), p.Size, field(strings.Join(notes, "; ")))
	}
	for _, f := range other {
		fmt.Fprintf(tw, "  %s\t\t\t\t%s: %s\n", field(f.Path), field(f.Kind), field(f.Detail))
	}
	return tw.Flush()
}

func indent(s string) string {
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		lines[i] = "  " + field(l)
	}
	return strings.Join(lines, "\n")
}

// parseMixed parses flags that may come before or after positional
// arguments.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err.Error())
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
