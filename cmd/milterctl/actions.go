package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"outguard/config"
	"outguard/containment"
	"outguard/limits"
	"outguard/quarantine"
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
	if queued != QueuedStay && queued != QueuedRelease && queued != QueuedDelete {
		return "", fmt.Errorf("queued %q: want release or delete", queued)
	}
	if queued != QueuedStay && a.cont == nil {
		return "", errNoQueue
	}
	_, lifted, _ := a.st.Usage(ctx, key, time.Now()) // what it was suspended for
	ok, err := a.st.Unsuspend(ctx, key, time.Now())
	var outcome string
	switch {
	case err != nil:
	case ok:
		outcome = "unsuspended: its next message is not refused as suspended (a copy of a campaign still running suspends it again, unless the campaign is spared); its undeliverable recipients, networks, countries, ASNs and spam so far no longer count toward a suspension" +
			a.otherCampaigns(ctx, key, lifted) + a.accountAudit(ctx, key, limits.AuditUnsuspended, operator, "")
	case queued != QueuedStay:
		outcome = key + " was not suspended" // lifted on another host: this host's held mail is still to settle
	default:
		err = fmt.Errorf("%s is not suspended", key)
	}
	if err != nil {
		return a.record(ctx, operator, "account unsuspend", key, "failed: "+err.Error()), err
	}
	if a.cont != nil && queued != QueuedStay {
		ids, serr := a.cont.Settle(ctx, key, queued == QueuedRelease, operator)
		if serr != nil {
			err = fmt.Errorf("%s is unsuspended, but its held mail was not settled: %w", key, serr)
			outcome += "; its held mail on this host was not settled: " + serr.Error()
		} else {
			outcome += fmt.Sprintf("; held mail on this host %sd: %d message(s) %s", queued, len(ids), strings.Join(ids, " "))
		}
	} else if a.cont != nil {
		if msgs, err := a.cont.Messages(ctx, key); err == nil {
			if n := containment.Held(msgs); n > 0 {
				outcome += fmt.Sprintf("; %d message(s) stay on hold on this host: release or delete them", n)
			}
		}
	}
	return a.record(ctx, operator, "account unsuspend", key, outcome), err
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

// SpareCampaign spares campaign id, judged innocent by operator (a
// petition): from now on it suspends no one, and the suspensions it made
// are lifted as Unsuspend lifts them (queued: the account's held mail on
// this host), each with an AuditSpared event so that it counts toward no
// escalation. The spare is recorded first: a copy counted while the
// accounts are lifted suspends no one. An account also suspended for
// something else, or that sent another campaign not spared, stays
// suspended: a stolen account that signed the petition is not released
// with it. Its copies are still held (campaign.action): the desk
// releases those it judges innocent (quarantine release). It returns one
// line per account, and fails when any account's lift failed.
func (a *actions) SpareCampaign(ctx context.Context, id, queued, operator string) ([]string, error) {
	cs, ok := a.st.(limits.CampaignStore)
	if !ok {
		return nil, fmt.Errorf("the limits store (%T) does not count campaigns", a.st)
	}
	c, err := cs.CampaignByID(ctx, id)
	if err == nil && c == nil {
		err = limits.ErrNoCampaign
	}
	if err == nil {
		err = cs.SpareCampaign(ctx, id, operator, time.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", id, err)
	}
	lines := []string{a.record(ctx, operator, "campaign spare", id, fmt.Sprintf("%s spared: its copies are still held (quarantine list --rule %s), its senders are not suspended for it", id, id))}
	var failed []string
	for _, acct := range c.Accounts {
		line, err := a.spareAccount(ctx, cs, id, acct.Account, queued, operator)
		if err != nil {
			failed = append(failed, acct.Account)
			line = acct.Account + " failed: " + err.Error()
		}
		lines = append(lines, line)
	}
	// A copy counted just before the spare may suspend its sender after
	// the pass above read it: lift those (run it again for any later).
	for _, acct := range c.Accounts {
		if _, s, err := a.st.Usage(ctx, acct.Account, time.Now()); err == nil && suspendedFor(s, id) && !slices.Contains(failed, acct.Account) {
			line, err := a.spareAccount(ctx, cs, id, acct.Account, queued, operator)
			if err != nil {
				failed = append(failed, acct.Account)
				line = acct.Account + " failed: " + err.Error()
			}
			lines = append(lines, line)
		}
	}
	if len(c.Accounts) == limits.CampaignAccountsMax {
		lines = append(lines, fmt.Sprintf("note: only the %d accounts that sent it last were read: run it again to lift the others", len(c.Accounts)))
	}
	if len(failed) > 0 {
		return lines, fmt.Errorf("campaign %s is spared, but lifting %s failed: run it again", id, strings.Join(failed, " "))
	}
	return lines, nil
}

// spareAccount lifts acct's suspension for the spared campaign id, unless
// it sent another campaign not spared or is suspended for something else.
func (a *actions) spareAccount(ctx context.Context, cs limits.CampaignStore, id, acct, queued, operator string) (string, error) {
	sent, err := cs.AccountCampaigns(ctx, acct, limits.CampaignAccountsMax)
	if err != nil {
		return "", err
	}
	var others []string
	for _, o := range sent {
		if o.ID == id {
			continue
		}
		sp, err := cs.CampaignSpared(ctx, o.ID)
		if err != nil {
			return "", err
		}
		if sp == nil {
			others = append(others, o.ID)
		}
	}
	if len(others) > 0 {
		return a.record(ctx, operator, "campaign spare", acct, acct+" left as it is: it also sent campaign(s) "+strings.Join(others, " ")+": read them (campaigns show) before lifting it"), nil
	}
	_, s, err := a.st.Usage(ctx, acct, time.Now())
	if err != nil {
		return "", err
	}
	// The void first: a suspension it lifted always counts toward no
	// escalation, even if the lift below fails.
	ev := limits.AuditEvent{Time: time.Now(), Account: acct, Event: limits.AuditSpared, By: operator, Host: a.cfg.HostName(), Campaign: id}
	if err := a.st.Audit(ctx, ev); err != nil {
		return "", fmt.Errorf("%s: recording the spare in its audit trail: %w", acct, err)
	}
	if s == nil {
		return a.record(ctx, operator, "campaign spare", acct, acct+" not suspended"), nil
	}
	if !suspendedFor(s, id) {
		return a.record(ctx, operator, "campaign spare", acct, acct+" stays suspended: "+s.Reason), nil
	}
	outcome, err := a.Unsuspend(ctx, acct, queued, operator) // recorded as an unsuspend
	return acct + " " + outcome, err
}

// suspendedFor reports whether s is a suspension for campaign id.
func suspendedFor(s *limits.Suspension, id string) bool {
	return s != nil && s.Signal == limits.SignalCampaign &&
		slices.ContainsFunc(s.Sightings, func(sg limits.Sighting) bool { return sg.Signal == limits.SignalCampaign && sg.Value == id })
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
