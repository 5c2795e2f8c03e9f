package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/setup"
)

// campaignsCmd lists the campaigns across accounts (campaign/) and shows
// one with the accounts that sent it.
func campaignsCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	if cfg.Limits == nil {
		return errors.New("the config has no limits section: campaigns are counted in the limits store")
	}
	var asJSON bool
	var sinceFlag string
	var limit int
	fs := flag.NewFlagSet("campaigns "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&asJSON, "json", false, "JSON output")
	if args[0] == "list" {
		fs.StringVar(&sinceFlag, "since", "7d", "how far back")
		fs.IntVar(&limit, "limit", 100, "the newest this many")
	}
	pos, err := parseMixed(fs, args[1:])
	if err != nil {
		return usageError(err.Error())
	}
	st, err := setup.OpenLimitsStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	cs, ok := st.(limits.CampaignStore)
	if !ok {
		return fmt.Errorf("the limits store (%T) does not count campaigns", st)
	}
	text := terminal{out}
	switch {
	case args[0] == "list" && len(pos) == 0:
		d, err := config.ParseDuration(sinceFlag)
		if err != nil {
			return usageError(fmt.Sprintf("campaigns list --since %q: want a duration such as 7d", sinceFlag))
		}
		if limit < 1 {
			return usageError(fmt.Sprintf("campaigns list --limit %d: want 1 or more", limit))
		}
		list, err := cs.Campaigns(ctx, time.Now().Add(-d), limit)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(out).Encode(list)
		}
		tw := tabwriter.NewWriter(text, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CAMPAIGN\tFIRST SEEN\tLAST SEEN\tCOPIES\tHELD\tSUBJECT")
		for _, c := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", c.ID, c.First.Local().Format(time.DateTime), c.Last.Local().Format(time.DateTime), c.Copies, c.Held, field(c.Subject))
		}
		return tw.Flush()
	case args[0] == "show" && len(pos) == 1:
		c, err := cs.CampaignByID(ctx, pos[0])
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("no campaign %s", pos[0])
		}
		if asJSON {
			return json.NewEncoder(out).Encode(c)
		}
		printCampaign(text, c)
		return nil
	}
	return usageError("campaigns list [--since 7d] [--json] | campaigns show ID [--json]")
}

func printCampaign(out io.Writer, c *limits.Campaign) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Campaign:\t%s\nSubject:\t%s\nFirst seen:\t%s\nLast seen:\t%s\nCopies:\t%d (%d held)\nAccounts:\t%d\n",
		c.ID, field(c.Subject), c.First.Local().Format(time.DateTime), c.Last.Local().Format(time.DateTime), c.Copies, c.Held, len(c.Accounts))
	tw.Flush()
	fmt.Fprintln(out, "\nAccounts (first seen, last seen, copies, account):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, a := range c.Accounts {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", a.First.Local().Format(time.DateTime), a.Last.Local().Format(time.DateTime), a.Copies, field(a.Account))
	}
	tw.Flush()
}
