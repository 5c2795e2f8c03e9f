package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"outguard/config"
	"outguard/containment"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
)

// accountsCmds are the accounts subcommands, each with its own flags.
var accountsCmds = map[string]func(a *acontext, args []string) error{
	"list": accountsList, "show": accountsShow, "suspend": accountsSuspend,
	"unsuspend": accountsUnsuspend, "reset": accountsReset, "audit": accountsAudit,
	"contain": accountsContain, "by-ip": accountsByIP,
}

func accounts(ctx context.Context, cfg *config.Config, args []string, out io.Writer) error {
	return dispatch("accounts", accountsCmds, args, func() (*acontext, func(), error) {
		if cfg.Limits == nil {
			return nil, nil, errors.New("the config has no limits section: there are no accounts")
		}
		st, eng, err := openLimitsEngine(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, nil, err
		}
		cont := setup.Containment(cfg, st, slog.New(slog.DiscardHandler))
		return &acontext{ctx: ctx, cfg: cfg, st: st, eng: eng, cont: cont, out: out, now: time.Now()}, func() { st.Close() }, nil
	})
}

// acontext is what every accounts subcommand works with.
type acontext struct {
	ctx context.Context
	cfg *config.Config
	st  limits.Store
	eng *limits.Engine
	// cont is this host's MTA queue (nil without one): milterctl acts on
	// it at once, milterd's sweep on every other host of a fleet.
	cont *containment.Containment
	out  io.Writer
	now  time.Time
}

// parse parses the subcommand's flags (define adds them), which may come
// before or after its accounts, and returns the accounts as milterd keys
// them.
func (a *acontext) parse(args []string, define func(fs *flag.FlagSet)) ([]string, error) {
	pos, err := subFlags("accounts", args, define)
	for i, p := range pos {
		if !strings.HasPrefix(p, "ip:") {
			pos[i] = a.eng.Accounts.Login(p)
		}
	}
	return pos, err
}

// text is the output for people: evidence carries remote servers' replies,
// so control characters are escaped.
func (a *acontext) text() io.Writer { return terminal{a.out} }

func accountsList(a *acontext, args []string) error {
	var asJSON, suspendedOnly bool
	if err := flagsOnly("accounts", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.BoolVar(&suspendedOnly, "suspended", false, "only suspended accounts")
	}); err != nil {
		return err
	}
	out := a.out
	if !asJSON {
		out = a.text()
	}
	return list(a.ctx, a.st, a.eng.Policy, suspendedOnly, asJSON, a.now, out)
}

func accountsShow(a *acontext, args []string) error {
	var asJSON bool
	pos, err := a.parse(args, func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "JSON output") })
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("accounts show takes one account")
	}
	out := a.out
	if !asJSON {
		out = a.text()
	}
	return show(a.ctx, a.st, a.eng.Policy, a.cont, pos[0], asJSON, a.now, out)
}

func accountsSuspend(a *acontext, args []string) error {
	var reason, dur string
	pos, err := a.parse(args, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why")
		fs.StringVar(&dur, "for", "", "how long (default: until unsuspended)")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 || reason == "" {
		return usageError("accounts suspend takes one account and --reason")
	}
	var until time.Time
	if dur != "" {
		d, err := config.ParseDuration(dur)
		if err != nil || d <= 0 {
			return usageError(fmt.Sprintf("accounts suspend --for %q: want a duration such as 2h or 7d", dur))
		}
		until = a.now.Add(d)
	}
	return a.action(pos[0], func(act *actions) (string, error) { return act.suspend(a.ctx, pos[0], reason, until, operator()) })
}

func accountsUnsuspend(a *acontext, args []string) error {
	var release, del bool
	pos, err := a.parse(args, func(fs *flag.FlagSet) {
		fs.BoolVar(&release, "release-queued", false, "release its held mail on this host")
		fs.BoolVar(&del, "delete-queued", false, "delete its held mail on this host")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 || release && del {
		return usageError("accounts unsuspend takes one account, and --release-queued or --delete-queued")
	}
	queued := QueuedStay
	if release {
		queued = QueuedRelease
	} else if del {
		queued = QueuedDelete
	}
	return a.action(pos[0], func(act *actions) (string, error) { return act.Unsuspend(a.ctx, pos[0], queued, operator()) })
}

func accountsReset(a *acontext, args []string) error {
	pos, err := a.parse(args, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("accounts reset takes one account")
	}
	return a.action(pos[0], func(act *actions) (string, error) { return act.Reset(a.ctx, pos[0], operator()) })
}

// action runs an account's action (the web console's, too), recorded in
// the quarantine's audit trail when there is a quarantine.
func (a *acontext) action(key string, do func(*actions) (string, error)) error {
	var q *quarantine.Store
	if a.cfg.Quarantine != nil {
		var err error
		if q, err = setup.OpenQuarantine(a.ctx, a.cfg); err != nil {
			return err
		}
		defer q.Close()
	}
	act := newActions(a.cfg, q, a.st)
	act.cont = a.cont
	outcome, err := do(act)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.text(), "%s %s\n", key, outcome)
	return nil
}

// queueView is show's account view with the account's mail in this
// host's queue, with the queue each message is in (hold: held for the
// suspension).
type queueView struct {
	limits.AccountView
	Queued     []containment.Message `json:"queued,omitempty"`
	QueueError string                `json:"queue_error,omitempty"`
}

// accountsAudit lists the audit trail: suspensions (automatic, escalated,
// manual), unsuspensions and queue actions, with who and where.
func accountsAudit(a *acontext, args []string) error {
	var asJSON bool
	var since string
	pos, err := a.parse(args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "JSON output")
		fs.StringVar(&since, "since", "30d", "how far back")
	})
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("accounts audit takes at most one account")
	}
	d, err := config.ParseDuration(since)
	if err != nil {
		return usageError(fmt.Sprintf("accounts audit --since %q: want a duration such as 30d", since))
	}
	key := ""
	if len(pos) == 1 {
		key = pos[0]
	}
	evs, err := a.st.AuditTrail(a.ctx, key, a.now.Add(-d))
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(a.out).Encode(evs)
	}
	tw := tabwriter.NewWriter(a.text(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACCOUNT\tEVENT\tBY\tHOST\tDETAIL")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Account, e.Event, e.By, e.Host, orDash(strings.ReplaceAll(e.Detail, "\t", " ")))
	}
	return tw.Flush()
}

// accountsContain runs milterd's containment sweep until SIGTERM or
// SIGINT: the queue follows suspensions on a host whose milterd may not
// run postsuper (the shipped unit forbids sudo to it; this command's unit,
// outguard-containment.service, allows the one sudoers line).
func accountsContain(a *acontext, args []string) error {
	if err := flagsOnly("accounts", args, func(*flag.FlagSet) {}); err != nil {
		return err
	}
	if a.cont == nil {
		return errors.New("accounts contain needs limits.mta (kind: postfix)")
	}
	ctx, stop := signal.NotifyContext(a.ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	setup.Containment(a.cfg, a.st, slog.New(slog.NewTextHandler(os.Stderr, nil))).Run(ctx)
	return nil
}

// operator is who runs milterctl, for the audit trail: taken at start,
// before asStateOwner switches users.
func operator() string { return operatorName }

var operatorName = whoami()

func whoami() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprint("uid ", os.Getuid())
}

func list(ctx context.Context, st limits.Store, pol *limits.Policy, suspendedOnly, asJSON bool, now time.Time, out io.Writer) error {
	keys, err := st.Accounts(ctx)
	if err != nil {
		return err
	}
	var views []limits.AccountView
	for _, k := range keys {
		v, err := limits.View(ctx, st, pol, k, now, false)
		if err != nil {
			return err
		}
		if !suspendedOnly || v.Suspension.Active(now) {
			views = append(views, v)
		}
	}
	if asJSON {
		return json.NewEncoder(out).Encode(views)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tMSGS/H\tMSGS/D\tRCPTS/H\tRCPTS/D\tSTATE")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Account,
			of(v.Usage.MessagesHour, v.Limits.MessagesPerHour), of(v.Usage.MessagesDay, v.Limits.MessagesPerDay),
			of(v.Usage.RecipientsHour, v.Limits.RecipientsPerHour), of(v.Usage.RecipientsDay, v.Limits.RecipientsPerDay),
			state(v.Suspension, now))
	}
	return tw.Flush()
}

func of(used, limit int) string {
	if limit == 0 {
		return fmt.Sprintf("%d/-", used)
	}
	return fmt.Sprintf("%d/%d", used, limit)
}

func state(s *limits.Suspension, now time.Time) string {
	switch {
	case s == nil:
		return "active"
	case !s.Active(now):
		return "suspension expired " + s.Until.Local().Format(time.DateTime)
	case s.Escalated:
		return "SUSPENDED since " + s.Since.Local().Format(time.DateTime) + " by " + s.By + ", escalated: until lifted"
	case s.Until.IsZero():
		return "SUSPENDED since " + s.Since.Local().Format(time.DateTime) + " by " + s.By + " until lifted"
	}
	return "SUSPENDED until " + s.Until.Local().Format(time.DateTime) + " by " + s.By
}

func show(ctx context.Context, st limits.Store, pol *limits.Policy, cont *containment.Containment, key string, asJSON bool, now time.Time, out io.Writer) error {
	lv, err := limits.View(ctx, st, pol, key, now, true)
	if err != nil {
		return err
	}
	v := queueView{AccountView: lv}
	if cont != nil {
		// The queue is this host's: a fleet's other hosts show theirs.
		if v.Queued, err = cont.Messages(ctx, key); err != nil {
			v.QueueError = err.Error()
		}
	}
	if asJSON {
		return json.NewEncoder(out).Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Account:\t%s\nState:\t%s\n", v.Account, state(v.Suspension, now))
	fmt.Fprintf(tw, "Messages:\t%s in the last hour, %s in the last day\n", of(v.Usage.MessagesHour, v.Limits.MessagesPerHour), of(v.Usage.MessagesDay, v.Limits.MessagesPerDay))
	fmt.Fprintf(tw, "Recipients:\t%s in the last hour, %s in the last day\n", of(v.Usage.RecipientsHour, v.Limits.RecipientsPerHour), of(v.Usage.RecipientsDay, v.Limits.RecipientsPerDay))
	fmt.Fprintf(tw, "Undeliverable threshold:\t%d per hour; %d counting now\n", v.Limits.UndeliverablePerHour, v.Counting)
	fmt.Fprintf(tw, "Refused threshold:\t%d messages per hour; %d counting now\n", v.Limits.RefusedMessagesPerHour, v.CountingRefused)
	if !v.Acknowledged.IsZero() {
		fmt.Fprintf(tw, "Acknowledged:\t%s (unsuspend or reset: earlier ones are history)\n", v.Acknowledged.Local().Format(time.DateTime))
	}
	for _, sv := range v.Signals {
		fmt.Fprintf(tw, "%s per hour:\t%s since %s\n", signalTitle[sv.Signal], of(sv.Counting, sv.Limit), sv.Since.Local().Format(time.TimeOnly))
	}
	tw.Flush()
	if s := v.Suspension; s != nil {
		fmt.Fprintf(out, "\nSuspension: %s\n", field(s.Reason))
		if s.Signal != "" {
			fmt.Fprintf(out, "Signal: %s\n", field(s.Signal))
		}
		if len(s.Evidence) > 0 {
			fmt.Fprintln(out, "Evidence:")
			undeliverables(out, s.Evidence, time.Time{})
		}
		if len(s.Sightings) > 0 {
			fmt.Fprintln(out, "Evidence:")
			sightings(out, s.Sightings)
		}
	}
	for _, sv := range v.Signals {
		if len(sv.Evidence) > 0 {
			fmt.Fprintf(out, "\n%s in the window (first seen, last seen, value, detail):\n", signalTitle[sv.Signal])
			sightings(out, sv.Evidence)
		}
	}
	if cont != nil {
		fmt.Fprintf(out, "\nIn this host's queue: %d message(s)\n", len(v.Queued))
		if v.QueueError != "" {
			fmt.Fprintf(out, "  (the queue could not be read: %s)\n", v.QueueError)
		}
		if n := containment.HeldByHand(v.Queued); n > 0 {
			fmt.Fprintf(out, "  held by containment: %d; held by hand: %d (unsuspend leaves these)\n", containment.Held(v.Queued), n)
		}
		for _, m := range v.Queued {
			state := m.Queue
			if m.Queue == containment.HoldQueue && !m.Contained {
				state = "on hold by hand"
			}
			fmt.Fprintf(out, "  %s\t%s\n", m.QueueID, state)
		}
	}
	if len(v.Campaigns) > 0 {
		fmt.Fprintf(out, "\nCampaigns across accounts it sent (milterctl campaigns show): %d\n", len(v.Campaigns))
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, c := range v.Campaigns {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.ID, c.First.Local().Format(time.DateTime), c.Last.Local().Format(time.DateTime), field(c.Subject))
		}
		tw.Flush()
	}
	fmt.Fprintf(out, "\nUndeliverable recipients, last 24 hours: %d\n", len(v.Recent))
	undeliverables(out, v.Recent, v.Acknowledged)
	if len(v.RecentRefused) > 0 {
		fmt.Fprintf(out, "\nRefused messages, last 24 hours: %d\n", len(v.RecentRefused))
		undeliverables(out, v.RecentRefused, v.Acknowledged)
	}
	fmt.Fprintf(out, "\nComplaints: %s in the last day; last 30 days: %d\n", of(v.CountingComplaints, v.Limits.ComplaintsPerDay), len(v.Complaints))
	complaintLines(out, v.Complaints)
	return nil
}

// undeliverables lists events; those up to acked are marked as history.
func undeliverables(out io.Writer, evs []limits.Undeliverable, acked time.Time) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, e := range evs {
		text := e.Text
		if len(text) > 60 {
			text = text[:57] + "..."
		}
		mark := ""
		if !e.Time.After(acked) {
			mark = " (acknowledged)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s%s\n", e.Time.Local().Format(time.DateTime), field(e.Source), field(e.Status), field(e.Rcpt), field(orDash(e.QueueID)), field(text), mark)
	}
	tw.Flush()
}

// signalTitle names a signal in show's output.
var signalTitle = map[string]string{
	limits.SignalNetworks: "Client networks", limits.SignalCountries: "Countries",
	limits.SignalASNs: "ASNs", limits.SignalSpam: "Spam messages",
}

// sightings lists sightings with when each was first and last seen.
func sightings(out io.Writer, ss []limits.Sighting) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range ss {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.First.Local().Format(time.DateTime), s.Last.Local().Format(time.DateTime), s.Signal, s.Value, orDash(strings.ReplaceAll(s.Detail, "\t", " ")))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
