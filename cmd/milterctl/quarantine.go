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
	"outguard/quarantine"
	"outguard/rules"
	"outguard/scanner"
)

func quarantineCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	if cfg.Quarantine == nil {
		return errors.New("the config has no quarantine section")
	}
	q, err := quarantine.OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer q.Close()
	fs := flag.NewFlagSet("quarantine "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "JSON output")
	user := fs.String("user", "", "only this account")
	reason := fs.String("reason", "", "only entries whose reason contains this")
	rule := fs.String("rule", "", "only entries with a finding of this rule or signature")
	since := fs.String("since", "", "only entries newer than this, e.g. 24h")
	state := fs.String("state", "", "only entries in this state: held, released, deleted")
	to := fs.String("to", "", "release to this recipient instead of the original ones")
	olderThan := fs.String("older-than", "", "purge entries older than this (default: retention)")
	mail := fs.Bool("mail", false, "digest: mail it to quarantine.digest_to")
	from := fs.String("from", "", "migrate: the local quarantine's directory (default: quarantine.dir)")
	force := fs.String("force", "", "resolve: the operator whose release is still within its lease")
	pos, err := parseMixed(fs, args[1:])
	if err != nil {
		return err
	}
	var after time.Time // --since: list and audit from then, digest over the period
	period := 24 * time.Hour
	if *since != "" {
		if period, err = config.ParseDuration(*since); err != nil {
			return usageError(err.Error())
		}
		after = time.Now().Add(-period)
	}
	exact := out // raw and JSON: the bytes as they are
	if !*asJSON {
		out = terminal{out}
	}
	audit := func(action, id, outcome string) {
		if err := q.Audit(ctx, operator(), action, id, outcome); err != nil {
			fmt.Fprintln(out, "warning: audit trail:", err)
		}
	}
	switch args[0] {
	case "list":
		f := quarantine.Filter{User: *user, Reason: *reason, State: *state, Finding: *rule, Since: after}
		recs, err := q.List(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(out).Encode(recs)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTIME\tHOST\tUSER\tSENDER\tRCPTS\tSIZE\tSTATE\tREASON")
		for _, r := range recs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", field(r.ID), r.Time.Local().Format(time.DateTime), field(orDash(r.Host)), field(orDash(r.User)), field(r.From), len(r.Rcpts), r.Size, field(r.State), field(r.Reason))
		}
		return tw.Flush()
	case "show":
		if len(pos) != 1 {
			return usageError("quarantine show takes one id")
		}
		return showEntry(ctx, q, pos[0], rules.WalkLimits(cfg), *asJSON, out)
	case "raw":
		if len(pos) != 1 {
			return usageError("quarantine raw takes one id")
		}
		r, _, err := q.Reader(ctx, pos[0])
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(exact, r)
		return err
	case "release":
		if len(pos) == 0 {
			return usageError("quarantine release takes ids")
		}
		var rcpts []string
		if *to != "" {
			rcpts = []string{*to}
		}
		var failed []error
		for _, id := range pos {
			reply, err := q.Release(ctx, id, cfg.Quarantine.ReleaseAddress, operator(), rcpts)
			outcome := "released: " + reply
			switch {
			case errors.Is(err, quarantine.ErrOutcomeUnknown):
				c := quarantine.Claim{}
				if rec, gerr := q.Get(ctx, id); gerr == nil && rec.Release != nil {
					c = *rec.Release
				}
				outcome = "outcome unknown (" + err.Error() + "): " + c.Unknown(id)
				failed = append(failed, exitError{4, fmt.Errorf("%s: outcome unknown: do not release it again before resolving it", id)})
			case errors.Is(err, quarantine.ErrNotMarked):
				outcome = "released (" + reply + "), but not marked released: " + err.Error() + "; it stays releasing: do not release it again"
				failed = append(failed, exitError{3, fmt.Errorf("%s: delivered but not marked released", id)})
			case err != nil && strings.HasPrefix(reply, "250"):
				outcome = "failed: " + err.Error()
				failed = append(failed, fmt.Errorf("%s: not released", id))
			case err != nil && reply != "":
				outcome = "refused by the MTA: " + reply
				failed = append(failed, fmt.Errorf("%s: not released", id))
			case err != nil:
				outcome = "failed: " + err.Error()
				failed = append(failed, fmt.Errorf("%s: not released", id))
			}
			audit("release", id, outcome)
			fmt.Fprintf(out, "%s: %s\n", field(id), field(outcome))
		}
		return errors.Join(failed...)
	case "digest":
		return digestCmd(ctx, cfg, q, period, *asJSON, *mail, out)
	case "resolve":
		if len(pos) != 2 {
			return usageError("quarantine resolve takes an id and released or held")
		}
		err := q.Resolve(ctx, pos[0], pos[1], *force)
		outcome := "resolved as " + pos[1]
		if err != nil {
			outcome = "failed: " + err.Error()
		}
		audit("resolve", pos[0], outcome)
		fmt.Fprintf(out, "%s: %s\n", pos[0], outcome)
		return err
	case "delete":
		if len(pos) == 0 {
			return usageError("quarantine delete takes ids")
		}
		var failed []error
		for _, id := range pos {
			err := q.Delete(ctx, id)
			outcome := "deleted"
			if err != nil {
				outcome = "failed: " + err.Error()
				failed = append(failed, err)
			}
			audit("delete", id, outcome)
			fmt.Fprintf(out, "%s: %s\n", id, outcome)
		}
		return errors.Join(failed...)
	case "audit":
		if len(pos) > 1 {
			return usageError("quarantine audit takes at most one id")
		}
		entries, err := q.AuditLog(ctx, after, strings.Join(pos, ""))
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(out).Encode(entries)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tHOST\tOPERATOR\tACTION\tID\tOUTCOME")
		for _, a := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.Local().Format(time.DateTime), field(a.Host), field(a.Operator), field(a.Action), field(a.ID), field(a.Outcome))
		}
		return tw.Flush()
	case "migrate":
		if cfg.Quarantine.Store != "postgres" {
			return errors.New("quarantine migrate copies the local quarantine into the shared one: set quarantine.store: postgres first")
		}
		dir := *from
		if dir == "" {
			dir = cfg.QuarantineDir()
		}
		if _, err := os.Stat(filepath.Join(dir, "index.db")); err != nil {
			return fmt.Errorf("no local quarantine in %s: %w", dir, err)
		}
		local, err := quarantine.Open(dir)
		if err != nil {
			return err
		}
		defer local.Close()
		local.Host = q.Host
		n, err := quarantine.Migrate(ctx, local, q, operator(), func(m quarantine.Migrated) {
			fmt.Fprintf(out, "%s: %s\n", m.ID, m.Outcome)
		})
		fmt.Fprintf(out, "%d entries copied from %s\n", n, dir)
		return err
	case "purge":
		keep := time.Duration(cfg.Quarantine.Retention)
		if *olderThan != "" {
			if keep, err = config.ParseDuration(*olderThan); err != nil {
				return usageError(err.Error())
			}
		}
		if *user != "" && *olderThan == "" {
			keep = 0 // an account's entries: all of them, unless --older-than
		}
		n, err := q.Purge(ctx, time.Now().Add(-keep), *user)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("%d entries older than %v", n, keep)
		if *user != "" {
			what += " of " + *user
		}
		audit("purge", "*", what)
		fmt.Fprintf(out, "purged %s\n", what)
		return nil
	}
	return usageError("unknown command quarantine " + args[0])
}

// showEntry prints a held message: its record, and the parts and archive
// members as the scanner walked them (same walker, same limits), with the
// walk's findings on each.
func showEntry(ctx context.Context, q *quarantine.Store, id string, lim scanner.Limits, asJSON bool, out io.Writer) error {
	rec, err := q.Get(ctx, id)
	if err != nil {
		return err
	}
	data, _, msgErr := q.Message(ctx, id)
	var parts []scanner.Part
	var other []scanner.Finding
	var header string
	if msgErr == nil {
		parts, other, _ = scanner.Parts(ctx, bytes.NewReader(data), int64(len(data)), lim)
		header, _, _ = strings.Cut(string(data), "\r\n\r\n")
	}
	if asJSON {
		v := struct {
			quarantine.Record
			Headers      string            `json:"headers,omitempty"`
			Parts        []scanner.Part    `json:"parts,omitempty"`
			WalkFindings []scanner.Finding `json:"walk_findings,omitempty"`
			Problem      string            `json:"problem,omitempty"`
		}{Record: rec, Headers: header, Parts: parts, WalkFindings: other}
		if msgErr != nil {
			v.Problem = msgErr.Error()
		}
		return json.NewEncoder(out).Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%s\nState:\t%s\nTime:\t%s\nHost:\t%s\nQueue ID:\t%s\nUser:\t%s\nClient:\t%s\nSender:\t%s\nRecipients:\t%s\nSize:\t%d\nSHA-256:\t%s\nReason:\t%s\n",
		field(rec.ID), field(rec.State), rec.Time.Local().Format(time.DateTime), field(orDash(rec.Host)), field(rec.QueueID), field(orDash(rec.User)), field(rec.Client), field(rec.From), field(strings.Join(rec.Rcpts, ", ")), rec.Size, field(rec.SHA256), field(rec.Reason))
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
		fmt.Fprintf(out, "  %s\n", field(describe(f)))
	}
	if msgErr != nil {
		fmt.Fprintf(out, "\nMessage: %v\n", msgErr)
		return nil
	}
	fmt.Fprintf(out, "\nHeaders:\n%s\n\nParts:\n", indent(header))
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, p := range parts {
		var notes []string
		for _, f := range p.Findings {
			notes = append(notes, f.Kind+": "+f.Detail)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", field(p.Path), field(p.ContentType), field(orDash(p.Filename)), p.Size, field(strings.Join(notes, "; ")))
	}
	for _, f := range other {
		fmt.Fprintf(tw, "  %s\t\t\t\t%s: %s\n", field(f.Path), field(f.Kind), field(f.Detail))
	}
	return tw.Flush()
}

// indent shows a header block a line a row, each line escaped (a bare LF
// or CR inside a field does not start a row of its own).
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

// describe is a finding on one line: engine, name and action, where in
// the message, the rule's description, the engine's version.
func describe(f quarantine.Finding) string {
	s := f.Engine + ":"
	for _, part := range []string{f.Name, f.Action} {
		if part != "" {
			s += " " + part
		}
	}
	if f.Part != "" {
		s += " in part " + f.Part
		if f.ArchivePath != "" {
			s += " " + f.ArchivePath
		} else if f.Filename != "" {
			s += " (" + f.Filename + ")"
		}
	}
	if f.Description != "" {
		s += ": " + f.Description
	}
	if f.Version != "" {
		s += " [" + f.Version + "]"
	}
	if f.Detail != "" && f.Name == "" {
		s += " " + f.Detail
	}
	return s
}
