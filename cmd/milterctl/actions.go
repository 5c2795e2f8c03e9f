package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"outguard/config"
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

func (a *actions) Suspend(ctx context.Context, key, reason, operator string) (string, error) {
	now := time.Now()
	ok, err := a.st.Suspend(ctx, limits.Suspension{Key: key, Since: now, Reason: reason, By: operator}, now)
	if err == nil && !ok {
		err = fmt.Errorf("%s is already suspended", key)
	}
	outcome := "suspended: " + reason + "; its next message is refused"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	return a.record(ctx, operator, "account suspend", key, outcome), err
}

func (a *actions) Unsuspend(ctx context.Context, key, operator string) (string, error) {
	ok, err := a.st.Unsuspend(ctx, key, time.Now())
	if err == nil && !ok {
		err = fmt.Errorf("%s is not suspended", key)
	}
	outcome := "unsuspended: its next message is accepted; its undeliverable recipients, networks, countries, ASNs and spam so far no longer count toward a suspension"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	return a.record(ctx, operator, "account unsuspend", key, outcome), err
}

func (a *actions) Reset(ctx context.Context, key, operator string) (string, error) {
	err := a.st.Reset(ctx, key, time.Now())
	outcome := "reset: message and recipient counters cleared, undeliverable recipients, networks, countries, ASNs and spam so far acknowledged"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	return a.record(ctx, operator, "account reset", key, outcome), err
}
