package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/limits"
)

// accountsByIP lists the accounts that logged in from each address given
// (or read from stdin, one a line, when none is: relayprobe listings
// feeds it the listed addresses so, however many). --json writes a JSON
// line per login as it is found: {"addr", "account", "last"}.
func accountsByIP(a *acontext, args []string) error {
	var asJSON bool
	since := "7d"
	pos, err := subFlags("accounts", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON lines")
		fs.StringVar(&since, "since", since, "how far back (the sightings are kept 7 days)")
	})
	if err != nil {
		return err
	}
	d, err := config.ParseDuration(since)
	if err != nil {
		return usageError(fmt.Sprintf("accounts by-ip --since %q: want a duration such as 7d", since))
	}
	ix, ok := a.st.(limits.LoginIndex)
	if !ok {
		return fmt.Errorf("the %s store cannot look up logins by address", a.cfg.Limits.Store)
	}
	next := func() (string, bool) {
		if len(pos) == 0 {
			return "", false
		}
		p := pos[0]
		pos = pos[1:]
		return p, true
	}
	readErr := func() error { return nil }
	if len(pos) == 0 {
		sc := bufio.NewScanner(os.Stdin)
		next = func() (string, bool) {
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					return l, true
				}
			}
			return "", false
		}
		readErr = sc.Err
	}
	enc := json.NewEncoder(a.out)
	tw := tabwriter.NewWriter(a.text(), 0, 0, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "ADDR\tACCOUNT\tLAST")
	}
	for {
		s, ok := next()
		if !ok {
			break
		}
		addr, perr := netip.ParseAddr(s)
		if perr != nil {
			return errors.Join(tw.Flush(), usageError(fmt.Sprintf("accounts by-ip: %q is no IP address", s)))
		}
		ls, err := ix.LoginsFrom(a.ctx, addr, a.now.Add(-d))
		if err != nil {
			return err
		}
		for _, l := range ls {
			if asJSON {
				if err := enc.Encode(l); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Addr, l.Account, l.Last.Local().Format(time.DateTime))
		}
	}
	if err := readErr(); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	return tw.Flush()
}
