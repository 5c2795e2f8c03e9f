package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"outguard/config"
	"outguard/containment"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
)

// actions are the state changes of milterctl's commands and of its web
// console, one function each: a release from the console is the same
// exactly-once release, with the same outcome in the audit trail, as
// `milterctl quarantine release`. Each returns the outcome it recorded.
type actions struct {
	cfg *config.Config
	q   *quarantine.Store // nil: no quarantine configured
	st  limits.Store      // nil: no limits configured
	// cont is this host's MTA queue (nil without limits.mta): account
	// actions act on the account's mail in it.
	cont *containment.Containment
	// audit records an action; the quarantine's audit trail when there
	// is a quarantine.
	audit func(ctx context.Context, operator, action, id, outcome string) error
}

func newActions(cfg *config.Config, q *quarantine.Store, st limits.Store) *actions {
	a := &actions{cfg: cfg, q: q, st: st, audit: func(context.Context, string, string, string, string) error { return nil }}
	if q != nil {
		a.audit = q.Audit
	}
	return a
}

// record writes the audit line; a failure to write it is part of the
// outcome, never silent.
func (a *actions) record(ctx context.Context, operator, action, id, outcome string) string {
	if err := a.audit(ctx, operator, action, id, outcome); err != nil {
		return outcome + " (warning: audit trail: " + err.Error() + ")"
	}
	return outcome
}

// Release releases a held entry to its recipients (or to). An error that
// wraps quarantine.ErrNotMarked is a message delivered but still marked
// releasing.
func (a *actions) release(ctx context.Context, id, operator string, to []string) (string, error) {
	reply, err := a.q.Release(ctx, id, a.cfg.Quarantine.ReleaseAddress, operator, to)
	outcome := "released: " + reply
	var failed error
	switch {
	case errors.Is(err, quarantine.ErrOutcomeUnknown):
		claim := quarantine.Claim{}
		if rec, gerr := a.q.Get(ctx, id); gerr == nil && rec.Release != nil {
			claim = *rec.Release
		}
		outcome = "outcome unknown (" + err.Error() + "): " + claim.Unknown(id)
		failed = exitError{4, fmt.Errorf("%s: outcome unknown: do not release it again before resolving it: %w", id, err)}
	case errors.Is(err, quarantine.ErrNotMarked):
		outcome = "released (" + reply + "), but not marked released: " + err.Error() + "; it stays releasing: do not release it again"
		failed = exitError{3, fmt.Errorf("%s: delivered but not marked released: %w", id, err)}
	case err != nil && strings.HasPrefix(reply, "250"):
		outcome = "failed: " + err.Error()
		failed = fmt.Errorf("%s: not released: %w", id, err)
	case err != nil && reply != "":
		outcome = "refused by the MTA: " + reply
		failed = fmt.Errorf("%s: not released: %w", id, err)
	case err != nil:
		outcome = "failed: " + err.Error()
		failed = fmt.Errorf("%s: not released: %w", id, err)
	}
	if len(to) > 0 { // the audit trail says where it went
		outcome = "to " + strings.Join(to, ", ") + " instead of the original recipients: " + outcome
	}
	return a.record(ctx, operator, "release", id, outcome), failed
}

func (a *actions) Release(ctx context.Context, id, operator string) (string, error) {
	return a.release(ctx, id, operator, nil)
}

// Resolve settles an entry; the console never overrides a live lease.
func (a *actions) Resolve(ctx context.Context, id, state, operator string) (string, error) {
	return a.resolve(ctx, id, state, operator, "")
}

// resolve settles an entry; force names the holder of a live release
// lease that the operator overrides (milterctl's --force).
func (a *actions) resolve(ctx context.Context, id, state, operator, force string) (string, error) {
	err := a.q.Resolve(ctx, id, state, force)
	outcome := "resolved as " + state
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	return a.record(ctx, operator, "resolve", id, outcome), err
}

func (a *actions) Delete(ctx context.Context, id, operator string) (string, error) {
	err := a.q.Delete(ctx, id)
	outcome := "deleted"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	return a.record(ctx, operator, "delete", id, outcome), err
}

// The account actions take the account as milterd keys it.

// Suspend suspends key until an operator lifts it, as milterd would; see
// suspend.
func (a *actions) Suspend(ctx context.Context, key, reason, operator string) (string, error) {
	return a.suspend(ctx, key, reason, time.Time{}, operator)
}

// suspend suspends key (until: zero for until lifted), records it in the
// account's audit trail and the quarantine's, and holds or deletes (per
// limits.on_suspend_queued) its mail in this host's queue at once:
// milterd's sweep does the same within a second on every host, doing it
// here too says at once what this host's queue held.
func (a *actions) suspend(ctx context.Context, key, reason string, until time.Time, operator string) (string, error) {
	now := time.Now()
	detail := reason
	if !until.IsZero() {
		detail += "; until " + until.UTC().Format(time.RFC3339)
	}
	ok, err := a.st.Suspend(ctx, limits.Suspension{Key: key, Since: now, Until: until, Reason: reason, By: operator}, now)
	if err == nil && !ok {
		err = fmt.Errorf("%s is already suspended", key)
	}
	if err != nil {
		return a.record(ctx, operator, "account suspend", key, "failed: "+err.Error()), err
	}
	outcome := "suspended: " + detail + "; its next message is refused" + a.accountAudit(ctx, key, limits.AuditSuspended, operator, detail)
	if a.cont != nil {
		ids, err := a.cont.Contain(ctx, key, operator)
		switch {
		case err != nil:
			// The suspension is in force: that is what this action does;
			// milterd's sweep keeps trying the queue.
			outcome += "; warning: its queued mail on this host was not acted on yet (milterd retries every second): " + err.Error()
		case len(ids) > 0:
			outcome += "; queued on this host: " + strings.Join(ids, " ") + " (" + a.cfg.Limits.OnSuspendQueued + ")"
		}
	}
	return a.record(ctx, operator, "account suspend", key, outcome), nil
}

// What Unsuspend does with the account's held mail in this host's queue.
const (
	QueuedStay    = ""        // it stays on hold
	QueuedRelease = "release" // released: Postfix delivers it
	QueuedDelete  = "delete"  // deleted
)

var errNoQueue = errors.New("releasing or deleting queued mail needs limits.mta (kind: postfix)")

// Unsuspend lifts key's suspension and releases or deletes its held mail
// in this host's queue (queued), or leaves it held and says how much. An
// account already lifted on another host of the fleet still has this
// host's held mail settled when queued asks for it.
func (a *actions) Unsuspend(ctx context.Context, key, queued, operator string) (string, error) {
	if err := a.checkQueued(queued); err != nil {
		return "", err
	}
	_, lifted, _ := a.st.Usage(ctx, key, time.Now()) // what it was suspended for
	ok, err := a.st.Unsuspend(ctx, key, time.Now())
	var outcome string
	switch {
	case err != nil:
	case ok:
		outcome = "unsuspended: its next message is not refused as suspended (a copy of a campaign still running suspends it again, unless it is spared for it: campaigns spare); its undeliverable recipients, networks, countries, ASNs and spam so far no longer count toward a suspension" +
			a.otherCampaigns(ctx, key, lifted) + a.accountAudit(ctx, key, limits.AuditUnsuspended, operator, "")
	case queued != QueuedStay:
		outcome = key + " was not suspended" // lifted on another host: this host's held mail is still to settle
	default:
		err = fmt.Errorf("%s is not suspended", key)
	}
	if err != nil {
		return a.record(ctx, operator, "account unsuspend", key, "failed: "+err.Error()), err
	}
	outcome, err = a.settle(ctx, key, queued, operator, outcome)
	return a.record(ctx, operator, "account unsuspend", key, outcome), err
}

// checkQueued refuses a queued that is none of the three, or that needs
// this host's queue without one.
func (a *actions) checkQueued(queued string) error {
	if queued != QueuedStay && queued != QueuedRelease && queued != QueuedDelete {
		return fmt.Errorf("queued %q: want release or delete", queued)
	}
	if queued != QueuedStay && a.cont == nil {
		return errNoQueue
	}
	return nil
}

// settle releases or deletes the held mail on this host of key, just
// lifted (queued), or says how much stays held, after outcome.
func (a *actions) settle(ctx context.Context, key, queued, operator, outcome string) (string, error) {
	if a.cont != nil && queued != QueuedStay {
		ids, err := a.cont.Settle(ctx, key, queued == QueuedRelease, operator)
		if err != nil {
			return outcome + "; its held mail on this host was not settled: " + err.Error(), fmt.Errorf("%s is unsuspended, but its held mail was not settled: %w", key, err)
		}
		return outcome + fmt.Sprintf("; held mail on this host %sd: %d message(s) %s", queued, len(ids), strings.Join(ids, " ")), nil
	}
	if a.cont != nil {
		if msgs, err := a.cont.Messages(ctx, key); err == nil {
			if n := containment.Held(msgs); n > 0 {
				outcome += fmt.Sprintf("; %d message(s) stay on hold on this host: release or delete them", n)
			}
		}
	}
	return outcome, nil
}

// otherCampaigns names the campaigns account key sent besides the one
// its lifted suspension was for: a sender of two campaigns is suspended
// for the first found only (the second finds it suspended already), and
// an operator who judged the first innocent released a sender of the
// other unawares (review rclear).
func (a *actions) otherCampaigns(ctx context.Context, key string, lifted *limits.Suspension) string {
	cs, ok := a.st.(limits.CampaignStore)
	if !ok {
		return ""
	}
	sent, err := cs.AccountCampaigns(ctx, key, limits.CampaignAccountsMax)
	if err != nil {
		return "; its other campaigns not read: " + err.Error()
	}
	var others []string
	for _, c := range sent {
		if lifted == nil || !slices.ContainsFunc(lifted.Sightings, func(s limits.Sighting) bool { return s.Signal == limits.SignalCampaign && s.Value == c.ID }) {
			others = append(others, c.ID)
		}
	}
	if len(others) == 0 {
		return ""
	}
	more := ""
	if len(sent) == limits.CampaignAccountsMax {
		more = fmt.Sprintf(" (the %d newest only: it may have sent older ones)", len(sent))
	}
	return "; note: it also sent campaign(s) " + strings.Join(others, " ") + more + ", not what it was suspended for: read them before it sends again (milterctl campaigns show)"
}

// accountAudit records an account event in the limits store's audit trail
// (milterctl accounts audit); it is done, so a failure to record it is a
// warning in the outcome.
func (a *actions) accountAudit(ctx context.Context, key, event, operator, detail string) string {
	ev := limits.AuditEvent{Time: time.Now(), Account: key, Event: event, By: operator, Host: a.cfg.HostName(), Detail: detail}
	if err := a.st.Audit(ctx, ev); err != nil {
		return " (warning: not recorded in the account's audit trail: " + err.Error() + ")"
	}
	return ""
}

func (a *actions) Reset(ctx context.Context, key, operator string) (string, error) {
	err := a.st.Reset(ctx, key, time.Now())
	outcome := "reset: message and recipient counters cleared, undeliverable recipients, networks, countries, ASNs and spam so far acknowledged"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	return a.record(ctx, operator, "account reset", key, outcome), err
}

// SpareCampaign spares the accounts of campaign id that operator judged
// innocent (a petition's signers): the campaign's run suspends none of
// them any more (limits.CampaignStore.SparedAccount, read by every
// milterd), its suspensions of them are lifted, and those count toward
// no escalation (limits.AuditSpared). Every copy is still held
// (campaign.action), and an account that first sends it later is
// suspended as before: run it again to spare it. An account that sent
// another campaign whose spare does not list it (a stolen account that
// signed the petition, then sent a phishing run) is left as it is, or
// suspended for that campaign if that one never suspended it (leave);
// one suspended for anything else stays so. The
// spare is recorded before any lift: a copy counted meanwhile suspends
// no spared account (milterd reads the spare again after a suspension,
// campaign/). It returns one line per account; an error when one failed
// (run it again).
func (a *actions) SpareCampaign(ctx context.Context, ids []string, queued, operator string) ([]string, error) {
	if err := a.checkQueued(queued); err != nil {
		return nil, err
	}
	cs, ok := a.st.(limits.CampaignStore)
	if !ok || a.cfg.Campaign == nil {
		return nil, errors.New("campaigns are counted with a campaign section and a limits store that keeps them")
	}
	eng, err := setup.LimitsEngine(a.cfg, a.st, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	// Each campaign's senders judged first, all spares recorded before
	// any lift: a signer of two campaigns spared together is spared of
	// both (review rspare4). The campaigns kept are read once for the
	// judgement (a lift reads them again, spareAccount).
	kept, err := limits.KeptCampaigns(ctx, cs, time.Now())
	if err != nil {
		return nil, err
	}
	type judged struct {
		id              string
		senders, spared []string
	}
	var all []judged
	var lines, failed []string
	for _, id := range ids {
		senders, err := cs.CampaignSenders(ctx, id)
		if err == nil && len(senders) == 0 {
			err = limits.ErrNoCampaign
		}
		if err != nil {
			return nil, fmt.Errorf("campaign %s: %w", id, err)
		}
		j := judged{id: id, senders: senders}
		for _, acct := range senders {
			others, err := limits.OtherUnspared(ctx, cs, kept, ids, acct)
			var line string
			switch {
			case err != nil:
			case len(others) > 0:
				line, err = a.leave(ctx, cs, eng, acct, others, operator)
			default:
				if line, err = a.crossed(ctx, eng, ids, acct, operator); err == nil && line == "" {
					j.spared = append(j.spared, acct)
				}
			}
			if err != nil {
				failed = append(failed, acct)
				line = acct + " failed: " + err.Error()
			}
			if line != "" {
				lines = append(lines, line)
			}
		}
		all = append(all, j)
	}
	var heads []string
	for _, j := range all {
		if err := cs.SpareCampaign(ctx, j.id, operator, time.Now(), j.spared); err != nil {
			return nil, fmt.Errorf("campaign %s: %w", j.id, err)
		}
		heads = append(heads, a.record(ctx, operator, "campaign spare", j.id, fmt.Sprintf("%s spared for %d of its %d accounts: its copies are still held (quarantine list --rule %s: read them first, a run joined to it is filed under it); an account that sends it later is suspended: spare it again", j.id, len(j.spared), len(j.senders), j.id)))
	}
	for _, j := range all {
		for _, acct := range j.spared {
			line, err := a.spareAccount(ctx, cs, eng, ids, j.id, acct, queued, operator)
			if err != nil {
				failed = append(failed, acct)
				line = acct + " failed: " + err.Error()
			}
			if line != "" {
				lines = append(lines, line)
			}
		}
	}
	lines = append(heads, lines...)
	if len(failed) > 0 {
		return lines, fmt.Errorf("%s spared, but sparing %s failed: run it again", strings.Join(ids, " "), strings.Join(failed, " "))
	}
	return lines, nil
}

// leave is the line of acct, left out of the spare for the campaigns
// others it sent. When it is not suspended and none of them ever
// suspended it (a lift raced with one of them, which found it suspended
// and recorded nothing; review rspare4), it is suspended for the first,
// as milterd would have; one that did suspend it had its say (its
// suspension may be over).
func (a *actions) leave(ctx context.Context, cs limits.CampaignStore, eng *limits.Engine, acct string, others []string, operator string) (string, error) {
	line := acct + " left as it is: it also sent campaign(s) " + strings.Join(others, " ") + ": read them (campaigns show); if innocent too, spare them together"
	_, s, err := a.st.Usage(ctx, acct, time.Now())
	if err != nil || s.Active(time.Now()) {
		return a.record(ctx, operator, "campaign spare", acct, line), err
	}
	trail, err := a.st.AuditTrail(ctx, acct, time.Time{})
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(trail, func(ev limits.AuditEvent) bool {
		return ev.By == "milterd" && (ev.Event == limits.AuditSuspended || ev.Event == limits.AuditEscalated) && slices.Contains(others, ev.Campaign)
	}) {
		return a.record(ctx, operator, "campaign spare", acct, line), nil
	}
	c, err := cs.CampaignByID(ctx, others[0])
	if err != nil || c == nil {
		return "", fmt.Errorf("reading campaign %s: %v", others[0], err)
	}
	if _, err := eng.SuspendCampaign(ctx, acct, *c, time.Now()); err != nil {
		return "", fmt.Errorf("suspending it for campaign %s: %w", others[0], err)
	}
	return a.record(ctx, operator, "campaign spare", acct, line+"; it was not suspended, nor ever for "+others[0]+": suspended for it"), nil
}

// crossed is the line of acct when its evidence since its first
// suspension for any of ids (spared together, review rspare9) keeps it
// out of the spare: a limit it crossed while suspended
// (limits.CrossedSince: a stolen account's botnet logging in, its run's
// bounces), or an automatic suspension for another signal (review
// rspare9: its own signal counted on is no crossing). Such an account is
// not listed (its next copy suspends it), its suspension in force kept,
// and its suspensions for the campaigns still count toward escalation
// (reviews rspare4 to rspare9); "" when there is none.
func (a *actions) crossed(ctx context.Context, eng *limits.Engine, ids []string, acct, operator string) (string, error) {
	now := time.Now()
	_, s, err := a.st.Usage(ctx, acct, now)
	if err != nil {
		return "", err
	}
	trail, err := a.st.AuditTrail(ctx, acct, time.Time{})
	if err != nil {
		return "", err
	}
	var first time.Time
	for _, id := range ids {
		if limits.SuspendedFor(s, id) {
			first = s.Since
		}
	}
	auto := func(ev limits.AuditEvent) bool {
		return ev.By == "milterd" && (ev.Event == limits.AuditSuspended || ev.Event == limits.AuditEscalated)
	}
	for _, ev := range trail {
		if auto(ev) && slices.Contains(ids, ev.Campaign) && (first.IsZero() || ev.Time.Before(first)) {
			first = ev.Time
		}
	}
	if first.IsZero() {
		return "", nil
	}
	// Stamped by the hosts' clocks, which may differ by up to
	// limits.ClockSlack (review rspare8: a crossing on a host behind the
	// suspending one's read as before it).
	since := first.Add(-limits.ClockSlack)
	over, err := eng.CrossedSince(ctx, acct, since)
	if err != nil {
		return "", err
	}
	if over == "" {
		// Not one the desk lifted since (unsuspend acknowledges it,
		// review rspare10), as CrossedSince reads crossings.
		acked, err := a.st.Acknowledged(ctx, acct)
		if err != nil {
			return "", err
		}
		for _, ev := range trail {
			if auto(ev) && ev.Campaign == "" && ev.Time.After(since) && ev.Time.After(acked) {
				over = "suspended for " + ev.Detail
				break
			}
		}
	}
	if over == "" {
		return "", nil
	}
	line := acct + " not spared: " + over
	if s.Active(now) {
		line = acct + " stays suspended, not spared: " + over
	}
	return a.record(ctx, operator, "campaign spare", acct, line+"; its suspensions for the campaign still count toward escalation"), nil
}

// spareAccount lifts acct's suspension in force, if it is id's
// (limits.LiftSpared: never one for anything else, nor an account that
// sent another campaign meanwhile), and voids its suspensions for id so
// far (limits.VoidCampaign) before the lift. A limit crossed since its
// judgement keeps it out, as at its judgement (review rspare7: the lifts
// come after every sender is judged).
func (a *actions) spareAccount(ctx context.Context, cs limits.CampaignStore, eng *limits.Engine, ids []string, id, acct, queued, operator string) (string, error) {
	now := time.Now()
	_, s, err := a.st.Usage(ctx, acct, now)
	if err != nil {
		return "", err
	}
	void := func() error {
		if err := limits.VoidCampaign(ctx, a.st, acct, id, operator, a.cfg.HostName(), ""); err != nil {
			return fmt.Errorf("recording the spare in its audit trail: %w", err)
		}
		return nil
	}
	if line, err := a.crossed(ctx, eng, ids, acct, operator); err != nil || line != "" {
		if err == nil {
			err = cs.UnlistSpared(ctx, id, acct) // listed at the spare: its next copy suspends it
		}
		return line, err
	}
	if !limits.SuspendedFor(s, id) {
		line := acct + " not suspended"
		if s.Active(now) {
			line = acct + " stays suspended: " + s.Reason
		}
		return a.record(ctx, operator, "campaign spare", acct, line), void()
	}
	// The campaigns kept, read again: one established since the
	// judgement keeps its sender, unvoided (review rspare6).
	kept, err := limits.KeptCampaigns(ctx, cs, now)
	if err != nil {
		return "", err
	}
	lifted, others, err := limits.LiftSpared(ctx, a.st, cs, s, id, kept, now, void)
	switch {
	case err != nil:
		return "", err
	case len(others) > 0:
		// Listed at the spare, its judgement having missed them (review
		// rspare6: Redis' index written apart): its next copy suspends it.
		return a.record(ctx, operator, "campaign spare", acct, acct+" left as it is: it sent campaign(s) "+strings.Join(others, " ")+" meanwhile"), cs.UnlistSpared(ctx, id, acct)
	case !lifted:
		return a.record(ctx, operator, "campaign spare", acct, acct+" not suspended for it any more"), nil
	}
	// Judged once more after the lift: a crossing recorded between the
	// judgement and the lift (review rspare9) puts it back.
	if line, err := a.crossed(ctx, eng, ids, acct, operator); err != nil || line != "" {
		if err == nil {
			err = errors.Join(limits.PutBack(ctx, a.st, s, id, now, "a limit crossed while suspended"), cs.UnlistSpared(ctx, id, acct))
		}
		return line, err
	}
	outcome := "unsuspended (spared): its next message is not refused as suspended; its other evidence (undeliverable recipients, networks, spam) still counts, toward its next such event" +
		a.accountAudit(ctx, acct, limits.AuditUnsuspended, operator, "campaign "+id+" spared")
	outcome, err = a.settle(ctx, acct, queued, operator, outcome)
	return acct + " " + a.record(ctx, operator, "campaign spare", acct, outcome), err
}

// UnspareCampaign ends id's spare: its next copies suspend their senders
// again (those lifted stay lifted until they send one).
func (a *actions) UnspareCampaign(ctx context.Context, id, operator string) (string, error) {
	cs, ok := a.st.(limits.CampaignStore)
	if !ok {
		return "", fmt.Errorf("the limits store (%T) does not count campaigns", a.st)
	}
	ended, err := cs.UnspareCampaign(ctx, id)
	if err == nil && !ended {
		err = fmt.Errorf("campaign %s is not spared", id)
	}
	if err != nil {
		return "", err
	}
	return a.record(ctx, operator, "campaign unspare", id, "no longer spared: its next copies suspend their senders again"), nil
}
