// Command milterctl is outguard's admin CLI. It works on milterd's state
// stores directly (SQLite and files in state_dir, or the shared Redis or
// PostgreSQL), not through milterd: it works while milterd is down, needs
// no admin API, and for a fleet on a shared store one command acts on
// every smarthost. milterd reads an
// account's state at every MAIL FROM, so a change takes effect on the next
// message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"outguard/config"
)

const usage = `usage: milterctl [-config FILE] COMMAND ...

  accounts list [--suspended] [--json]
  accounts show ACCOUNT [--json]
  accounts suspend ACCOUNT --reason TEXT [--for DURATION]
                                  (its queued mail on this host: limits.on_suspend_queued)
  accounts unsuspend ACCOUNT [--release-queued | --delete-queued]
                                  (its undeliverables so far stop counting;
                                  the flags settle its held mail on this host)
  accounts audit [ACCOUNT] [--since 30d] [--json]
  accounts contain                (holds suspended accounts' queued mail until stopped:
                                  outguard-containment.service)
  accounts reset ACCOUNT          (clears its counters, too)
  accounts by-ip [ADDR...] [--since 7d] [--json]
                                  (the accounts that logged in from each address;
                                  none given: addresses from stdin, one a line)

  quarantine list [--user U] [--rule R] [--reason R] [--since 24h] [--state held] [--json]
  quarantine show ID [--json]
  quarantine raw ID
  quarantine release ID... [--to ADDR]   (exit 3: delivered but not marked; 4: outcome unknown)
  quarantine resolve ID released|held [--force OPERATOR]  (a release that did not finish)
  quarantine digest [--since 24h] [--json] [--mail]
  quarantine delete ID...
  quarantine purge [--older-than 30d] [--user U]
  quarantine audit [ID] [--since 24h] [--json]
  quarantine migrate [--from DIR]   (local entries into the shared store)

  campaigns list [--since 7d] [--limit 100] [--json]   (one text sent by many accounts)
  campaigns show CAMPAIGN [--json]       (with the accounts that sent it)
  campaigns spare CAMPAIGN... [--release-queued | --delete-queued]
                                  (judged innocent: its senders so far lifted and suspended
                                  by it no more; its copies still held)
  campaigns unspare CAMPAIGN

  web [-config FILE] [-listen ADDR]   (the web console: web in the config)
  web adduser NAME viewer|reviewer|admin   (the password on stdin)

  complaints ingest [--maildir DIR]   (one report on stdin, for Postfix's pipe: exit 75 on any
                                      failure, so it is delivered again; or a Maildir's new/)
  complaints list [--since 7d] [--account A | --unattributable] [--json]

  rules check [DIR]
  rules test [DIR] MESSAGE.eml... [--json]

ACCOUNT is a SASL login, or ip:ADDRESS for mail sent without one.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	code := runCmd(ctx, args, stdout, stderr)
	if code != 0 && isIngest(args) {
		// Postfix's pipe(8) bounces a report on any status but
		// EX_TEMPFAIL: a bad config or a store down must keep it.
		return exTempfail
	}
	return code
}

// isIngest reports whether args run complaints ingest.
func isIngest(args []string) bool {
	for i, a := range args {
		if a == "complaints" {
			return i+1 < len(args) && args[i+1] == "ingest"
		}
	}
	return false
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("milterctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	path := fs.String("config", config.DefaultPath, "milterd's config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.Arg(0) == "web" {
		return webCmd(ctx, fs.Args()[1:], *path, stdout, stderr)
	}
	cmds := map[string]func(context.Context, *config.Config, []string, io.Writer) error{"accounts": accounts, "quarantine": quarantineCmd, "rules": rulesCmd, "campaigns": campaignsCmd, "complaints": complaintsCmd}
	cmd := cmds[fs.Arg(0)]
	if fs.NArg() < 2 || cmd == nil {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if errors.Is(err, os.ErrNotExist) && fs.Arg(0) == "rules" {
		cfg, err = config.Default(), nil // the security team's workstation
	}
	if err != nil {
		fmt.Fprintln(stderr, "milterctl:", err)
		return 1
	}
	if fs.Arg(0) != "rules" {
		if err := asStateOwner(cfg); err != nil {
			fmt.Fprintln(stderr, "milterctl:", err)
			return 1
		}
	}
	if err := cmd(ctx, cfg, fs.Args()[1:], stdout); err != nil {
		fmt.Fprintln(stderr, "milterctl:", err)
		if _, ok := err.(usageError); ok {
			return 2
		}
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

// exitError is an error with an exit status of its own.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

type usageError string

func (e usageError) Error() string { return string(e) + "\n" + usage }
