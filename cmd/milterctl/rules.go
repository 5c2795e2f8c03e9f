package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"outguard/config"
	"outguard/rules"
	"outguard/setup"
)

// rulesCmds are the rules subcommands: "rules check [DIR]" and "rules
// test [DIR] MESSAGE...". DIR defaults to the config's rules.dir.
var rulesCmds = map[string]func(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error{
	"check": rulesCheck, "test": rulesTest,
}

func rulesCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	run, err := subcommand("rules", rulesCmds, args)
	if err != nil {
		return err
	}
	return run(ctx, cfg, args, out)
}

// rulesArgs parses the subcommand's flags (define adds them) and returns
// the config with the rules section to use: the directory given first, if
// any, else the config's.
func rulesArgs(cfg *config.Config, args []string, define func(fs *flag.FlagSet)) (*config.Config, []string, error) {
	pos, err := subFlags("rules", args, define)
	if err != nil {
		return nil, nil, err
	}
	rc := *cfg
	r := *config.RulesOrDefault(cfg.Rules)
	rc.Rules = &r
	if len(pos) > 0 {
		if fi, err := os.Stat(pos[0]); err == nil && fi.IsDir() {
			rc.Rules.Dir, pos = pos[0], pos[1:]
		}
	}
	return &rc, pos, nil
}

func rulesCheck(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	rc, pos, err := rulesArgs(cfg, args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("rules check takes at most a directory")
	}
	out = terminal{out}
	set, err := rules.Compile(rc.Rules.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %d rules in %d files, version %s\n", rc.Rules.Dir, len(set.Info), len(set.Files), set.Version)
	for _, w := range set.Warnings {
		fmt.Fprintln(out, "warning: "+w)
	}
	return nil
}

func rulesTest(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	var asJSON bool
	rc, pos, err := rulesArgs(cfg, args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("rules test takes message files")
	}
	if !asJSON {
		out = terminal{out}
	}
	eng, err := setup.RulesEngine(rc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	var results []any
	for _, p := range pos {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// As milterd sees it: the MTA hands over CRLF line ends.
		if !bytes.Contains(data, []byte("\r\n")) {
			data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		}
		res, err := eng.Scan(ctx, bytes.NewReader(data), int64(len(data)), "", "")
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		var notes []string
		note := func(n string) { notes = append(notes, n) }
		v := eng.Decide(res, note, note)
		if asJSON {
			results = append(results, struct {
				File    string `json:"file"`
				Verdict string `json:"verdict"`
				Reason  string `json:"reason,omitempty"`
				Notes   []string
				rules.Result
			}{p, v.Action.String(), v.Reason, notes, res})
			continue
		}
		fmt.Fprintf(out, "%s: %s", p, v.Action)
		if v.Reason != "" {
			fmt.Fprintf(out, " (%s)", v.Reason)
		}
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, it := range res.Items {
			var hits []string
			for _, m := range it.Matches {
				hits = append(hits, m.Namespace+":"+m.Rule+" → "+m.Action)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", it.Path, it.ContentType, orDash(it.Filename), it.Size, strings.Join(hits, ", "))
		}
		tw.Flush()
		for _, f := range res.Anomalies {
			fmt.Fprintf(out, "  finding: %s at %s: %s\n", f.Kind, f.Path, f.Detail)
		}
		for _, n := range notes {
			fmt.Fprintf(out, "  note: %s\n", n)
		}
	}
	if asJSON {
		return json.NewEncoder(out).Encode(results)
	}
	return nil
}
