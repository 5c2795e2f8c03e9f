package main

import (
	"flag"
	"fmt"
	"io"
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
