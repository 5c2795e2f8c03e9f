package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
)

// campaignsCmds are the campaigns subcommands: the campaigns across
// accounts (campaign/), one with the accounts that sent it, and the abuse
// desk's spare of one judged innocent.
var campaignsCmds = map[string]func(c *ccontext, args []string) error{
	"list": campaignsList, "show": campaignsShow, "spare": campaignsSpare, "unspare": campaignsUnspare,
}

func campaignsCmd(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	return dispatch("campaigns", campaignsCmds, args, func() (*ccontext, func(), error) {
		if cfg.Limits == nil {
			return nil, nil, errors.New("the config has no limits section: campaigns are counted in the limits store")
		}
		st, err := setup.OpenLimitsStore(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		cs, ok := st.(limits.CampaignStore)
		if !ok {
			st.Close()
			return nil, nil, fmt.Errorf("the limits store (%T) does not count campaigns", st)
		}
		return &ccontext{ctx: ctx, cfg: cfg, st: st, cs: cs, out: out}, func() { st.Close() }, nil
	})
}

// ccontext is what every campaigns subcommand works with.
type ccontext struct {
	ctx context.Context
	cfg *config.Config
	st  limits.Store
	cs  limits.CampaignStore
	out io.Writer // JSON output; text goes through terminal (subjects are the senders')
}

func campaignsList(c *ccontext, args []string) error {
	var asJSON bool
	var sinceFlag string
	var limit int
	if err := flagsOnly("campaigns", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.StringVar(&sinceFlag, "since", "7d", "how far back")
		fs.IntVar(&limit, "limit", 100, "the newest this many")
	}); err != nil {
		return err
	}
	d, err := config.ParseDuration(sinceFlag)
	if err != nil {
		return usageError(fmt.Sprintf("campaigns list --since %q: want a duration such as 7d", sinceFlag))
	}
	if limit < 1 {
		return usageError(fmt.Sprintf("campaigns list --limit %d: want 1 or more", limit))
	}
	list, err := c.cs.Campaigns(c.ctx, time.Now().Add(-d), limit)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(c.out).Encode(list)
	}
	tw := tabwriter.NewWriter(terminal{c.out}, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tFIRST SEEN\tLAST SEEN\tCOPIES\tHELD\tSUBJECT")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", c.ID, c.First.Local().Format(time.DateTime), c.Last.Local().Format(time.DateTime), c.Copies, c.Held, field(c.Subject))
	}
	return tw.Flush()
}

func campaignsShow(c *ccontext, args []string) error {
	id, asJSON, err := oneArg("campaigns", "campaign", args)
	if err != nil {
		return err
	}
	camp, err := c.cs.CampaignByID(c.ctx, id)
	if err != nil {
		return err
	}
	if camp == nil {
		return fmt.Errorf("no campaign %s", id)
	}
	if asJSON {
		return json.NewEncoder(c.out).Encode(camp)
	}
	printCampaign(terminal{c.out}, camp)
	return nil
}

func printCampaign(out io.Writer, c *limits.Campaign) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Campaign:\t%s\nSubject:\t%s\nFirst seen:\t%s\nLast seen:\t%s\nCopies:\t%d (%d held)\nAccounts:\t%d\n",
		c.ID, field(c.Subject), c.First.Local().Format(time.DateTime), c.Last.Local().Format(time.DateTime), c.Copies, c.Held, len(c.Accounts))
	if c.Spared != nil {
		fmt.Fprintf(tw, "Spared:\t%s by %s: its copies are held, the senders it spared not suspended\n", c.Spared.At.Local().Format(time.DateTime), field(c.Spared.By))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nAccounts (first seen, last seen, copies, account):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, a := range c.Accounts {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", a.First.Local().Format(time.DateTime), a.Last.Local().Format(time.DateTime), a.Copies, field(a.Account))
	}
	tw.Flush()
}

// campaignsSpare spares a campaign judged innocent (campaignspare.go in
// limits/): from now on it suspends no one, and the suspensions it made
// are lifted (SpareCampaign). Its copies are still held.
func campaignsSpare(c *ccontext, args []string) error {
	var release, del bool
	pos, err := subFlags("campaigns", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&release, "release-queued", false, "release the lifted accounts' held mail on this host")
		fs.BoolVar(&del, "delete-queued", false, "delete the lifted accounts' held mail on this host")
	})
	if err != nil {
		return err
	}
	if len(pos) == 0 || release && del {
		return usageError("campaigns spare takes campaigns (spared together: a signer of them all is spared), and --release-queued or --delete-queued")
	}
	queued := QueuedStay
	if release {
		queued = QueuedRelease
	} else if del {
		queued = QueuedDelete
	}
	return c.action(func(act *actions) error {
		lines, err := act.SpareCampaign(c.ctx, pos, queued, operator())
		for _, l := range lines {
			fmt.Fprintln(terminal{c.out}, l)
		}
		return err
	})
}

func campaignsUnspare(c *ccontext, args []string) error {
	pos, err := subFlags("campaigns", args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("campaigns unspare takes one campaign")
	}
	return c.action(func(act *actions) error {
		outcome, err := act.UnspareCampaign(c.ctx, pos[0], operator())
		if err == nil {
			fmt.Fprintf(terminal{c.out}, "%s %s\n", pos[0], outcome)
		}
		return err
	})
}

// action runs do with the actions of milterctl and the console: this
// host's queue and the quarantine's audit trail, as accounts' actions.
func (c *ccontext) action(do func(*actions) error) error {
	var q *quarantine.Store
	if c.cfg.Quarantine != nil {
		var err error
		if q, err = setup.OpenQuarantine(c.ctx, c.cfg); err != nil {
			return err
		}
		defer q.Close()
	}
	act := newActions(c.cfg, q, c.st)
	act.cont = setup.Containment(c.cfg, c.st, slog.New(slog.DiscardHandler))
	return do(act)
}
