package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"outguard/config"
	"outguard/limits"
	"outguard/setup"
)

// subcommand finds args[0] among the subcommands of group (accounts,
// quarantine, rules, campaigns, complaints): every group dispatches
// through it, so an unknown one is the same usage error everywhere.
func subcommand[F any](group string, cmds map[string]F, args []string) (F, error) {
	run, ok := cmds[args[0]]
	if !ok {
		return run, usageError("unknown command " + group + " " + args[0])
	}
	return run, nil
}

// dispatch runs the subcommand args[0] of group with the context open
// makes (the group's store opened; closed by the func it returns when the
// subcommand ends). An unknown subcommand opens nothing and is a usage
// error before anything open could say (a config without the group's
// section).
func dispatch[C any](group string, cmds map[string]func(C, []string) error, args []string, open func() (C, func(), error)) error {
	run, err := subcommand(group, cmds, args)
	if err != nil {
		return err
	}
	c, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	return run(c, args)
}

// subFlags parses the flags of the subcommand args[0] of group (define
// adds them), which may come before or after its arguments, and returns
// the arguments.
func subFlags(group string, args []string, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet(group+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	return parseMixed(fs, args[1:])
}

// flagsOnly is subFlags for a subcommand that takes no arguments: one
// given is a usage error, not ignored (`quarantine list alice` listed
// every account's entries, as if it said nothing).
func flagsOnly(group string, args []string, define func(fs *flag.FlagSet)) error {
	pos, err := subFlags(group, args, define)
	if err == nil && len(pos) > 0 {
		err = usageError(fmt.Sprintf("%s %s takes no arguments, only flags (%q)", group, args[0], pos[0]))
	}
	return err
}

// oneArg parses the flags of a subcommand that takes one argument (what
// it is, for the usage error) and --json.
func oneArg(group, what string, args []string) (string, bool, error) {
	var asJSON bool
	pos, err := subFlags(group, args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err == nil && len(pos) != 1 {
		err = usageError(fmt.Sprintf("%s %s takes one %s", group, args[0], what))
	}
	if err != nil {
		return "", false, err
	}
	return pos[0], asJSON, nil
}

// openLimitsEngine opens the limits store and builds the limits engine on
// it (log: the engine's), as milterd does; the caller closes the store.
func openLimitsEngine(ctx context.Context, cfg *config.Config, log *slog.Logger) (limits.Store, *limits.Engine, error) {
	st, err := setup.OpenLimitsStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	eng, err := setup.LimitsEngine(cfg, st, log)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, eng, nil
}
