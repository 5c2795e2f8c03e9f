package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
)

// campaignsCmds are the campaigns subcommands: the campaigns across
// accounts (campaign/) and one with the accounts that sent it.
var campaignsCmds = map[string]func(c *ccontext, args []string) error{
	"list": campaignsList, "show": campaignsShow, "spare": campaignsSpare,
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
		fmt.Fprintf(tw, "Spared:\tat %s by %s, until %s (its accounts by then are not suspended for it; later senders are; its copies are still held)\n",
			c.Spared.At.Local().Format(time.DateTime), field(c.Spared.By), c.Spared.Until.Local().Format(time.DateTime))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nAccounts (first seen, last seen, copies, account):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, a := range c.Accounts {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", a.First.Local().Format(time.DateTime), a.Last.Local().Format(time.DateTime), a.Copies, field(a.Account))
	}
	tw.Flush()
}

// campaignsSpare records the abuse desk's judgement that a campaign is
// innocent (a petition, a family's letter: the shapes docs/suspension.md
// lists as still found) as its accounts have sent it by now: until --for
// has passed (at most the campaign record's retention) they are not
// suspended for it again, on every host of the fleet, and those
// suspended for it (the 1000 seen last) are unsuspended, their held mail
// settled as accounts unsuspend does. An account that sends it later is
// suspended as before (run the spare again once read): spared whoever
// sends it, a run joined to it (a lure carrying its text) suspended
// nobody and was re-established in waves (review rspare). Its copies
// still get campaign.action. An account that also sent another campaign
// not spared, and a suspension made permanent (escalated), are left to
// accounts unsuspend.
func campaignsSpare(c *ccontext, args []string) error {
	var dur string
	var release, del bool
	pos, err := subFlags("campaigns", args, func(fs *flag.FlagSet) {
		fs.StringVar(&dur, "for", "7d", "how long its senders so far are spared (at most 7d)")
		fs.BoolVar(&release, "release-queued", false, "release its senders' held mail on this host")
		fs.BoolVar(&del, "delete-queued", false, "delete its senders' held mail on this host")
	})
	if err != nil {
		return err
	}
	d, derr := config.ParseDuration(dur)
	if len(pos) != 1 || release && del || derr != nil || d <= 0 || d > limits.CampaignRetention {
		return usageError("campaigns spare takes one campaign, --for a duration up to 7d, and --release-queued or --delete-queued")
	}
	queued := QueuedStay
	if release {
		queued = QueuedRelease
	} else if del {
		queued = QueuedDelete
	}
	id, now := pos[0], time.Now()
	camp, err := c.cs.CampaignByID(c.ctx, id)
	if err != nil {
		return err
	}
	if camp == nil {
		return fmt.Errorf("no campaign %s", id)
	}
	var q *quarantine.Store
	if c.cfg.Quarantine != nil {
		if q, err = setup.OpenQuarantine(c.ctx, c.cfg); err != nil {
			return err
		}
		defer q.Close()
	}
	act := newActions(c.cfg, q, c.st)
	act.cont = setup.Containment(c.cfg, c.st, slog.New(slog.DiscardHandler))
	until := now.Add(d)
	if ok, err := c.cs.SpareCampaign(c.ctx, id, now, until, operator()); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("no campaign %s", id) // gone since it was read
		}
		act.record(c.ctx, operator(), "campaign spare", id, "failed: "+err.Error())
		return err
	}
	out := terminal{c.out}
	fmt.Fprintf(out, "%s %s\n", id, act.record(c.ctx, operator(), "campaign spare", id,
		fmt.Sprintf("spared until %s: the accounts that sent it by now are not suspended for it again; later senders are, and its copies still get campaign.action", until.Local().Format(time.DateTime))))
	var failed error
	for _, a := range camp.Accounts {
		_, s, err := c.st.Usage(c.ctx, a.Account, now)
		switch {
		case err != nil:
			failed = errors.Join(failed, fmt.Errorf("%s: %w", a.Account, err))
			fmt.Fprintf(out, "%s not read: %v\n", field(a.Account), err)
			continue
		case !s.Active(now) || !forCampaign(s, id):
			continue
		case s.Escalated:
			fmt.Fprintf(out, "%s left suspended: made permanent (escalated); see accounts show\n", field(a.Account))
			continue
		}
		others, err := unspared(c.ctx, c.cs, a.Account, id, now)
		if err != nil {
			failed = errors.Join(failed, fmt.Errorf("%s: %w", a.Account, err))
			fmt.Fprintf(out, "%s left suspended: its other campaigns not read: %v\n", field(a.Account), err)
			continue
		}
		if others != "" {
			fmt.Fprintf(out, "%s left suspended: it also sent campaign(s) %s, not spared (milterctl campaigns show)\n", field(a.Account), others)
			continue
		}
		outcome, err := act.Unsuspend(c.ctx, a.Account, queued, operator())
		if err != nil {
			failed = errors.Join(failed, fmt.Errorf("%s: %w", a.Account, err))
		}
		fmt.Fprintf(out, "%s %s\n", field(a.Account), cmp.Or(outcome, "not unsuspended: "+fmt.Sprint(err)))
	}
	if len(camp.Accounts) == limits.CampaignAccountsMax {
		fmt.Fprintf(out, "only the %d accounts seen last are listed: look for others suspended for %s (accounts list)\n", limits.CampaignAccountsMax, id)
	}
	if camp.Held > 0 {
		fmt.Fprintf(out, "held copies: %d, still held (milterctl quarantine list --rule %s, then quarantine release)\n", camp.Held, id)
	}
	return failed
}

// unspared lists the campaigns account sent besides id that are not
// spared at now (the CampaignAccountsMax newest), space-separated.
func unspared(ctx context.Context, cs limits.CampaignStore, account, id string, now time.Time) (string, error) {
	sent, err := cs.AccountCampaigns(ctx, account, limits.CampaignAccountsMax)
	if err != nil {
		return "", err
	}
	var others []string
	for _, c := range sent {
		if c.ID != id && !c.SparedAt(now) {
			others = append(others, c.ID)
		}
	}
	return strings.Join(others, " "), nil
}

// forCampaign reports whether suspension s is for campaign id.
func forCampaign(s *limits.Suspension, id string) bool {
	return s.Signal == limits.SignalCampaign && slices.ContainsFunc(s.Sightings, func(g limits.Sighting) bool { return g.Signal == limits.SignalCampaign && g.Value == id })
}
