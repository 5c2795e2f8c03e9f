package limits

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// A limit an account crosses while it is suspended suspends nothing (it
// is suspended already). milterd records it in the account's audit trail
// (markCrossed, AuditCrossed) with its own count, so that a lift that
// acknowledges none of the account's evidence (LiftCampaign, a spared
// campaign's) keeps a stolen account suspended: its botnet keeps logging
// in while it is suspended (BeginMessage records each login), its run's
// bounces keep coming. Reviews rspare4, rspare5 (undeliverable
// recipients), rspare6: a count rebuilt later from what the store keeps
// missed an hour that straddled the suspension, a network whose first and
// last sightings fell outside the hour, and counted hours milterd does
// not.

// markCrossed records that key crossed signal's limit (reason: the count,
// as a suspension's reason says it) while suspended (susp: the suspension
// in force; nil: read here). A suspension's own signal counted on (the
// 11th refused recipient of the message whose 10th suspended it, a
// client retrying from its networks) is no new evidence: not recorded
// (review rspare8: an innocent signer kept out). Once a clock hour per
// account, signal and suspension: claimed in the engine (alerted: a
// botnet trying a suspended account's credentials crosses it again at
// each login), then asked of the trail, which decides across hosts, for
// each process of complaints ingest, and when the bounded claim set has
// forgotten it (review rspare7: thousands of rows).
func (e *Engine) markCrossed(ctx context.Context, key, signal, reason string, susp *Suspension, now time.Time) error {
	if susp == nil {
		_, s, err := e.Store.Usage(ctx, key, now)
		if err != nil {
			return fmt.Errorf("recording a limit crossed while suspended: %w", err)
		}
		if !s.Active(now) {
			return nil
		}
		susp = s
	}
	if susp.Signal == signal || slices.Contains(spreadSignals, susp.Signal) && slices.Contains(spreadSignals, signal) {
		return nil
	}
	since := susp.Since
	hour := now.Truncate(Hour)
	claim := fmt.Sprintf("crossed\x00%s\x00%s\x00%d\x00%d", signal, key, since.UnixMilli(), hour.Unix())
	if !e.alerted.claim(claim, hour.Add(Hour), now) {
		return nil
	}
	from := hour
	if since.After(from) {
		from = since
	}
	trail, err := e.Store.AuditTrail(ctx, key, from)
	if err == nil && slices.ContainsFunc(trail, func(ev AuditEvent) bool { return ev.Event == AuditCrossed && ev.Signal == signal }) {
		return nil
	}
	if err == nil {
		err = e.Store.Audit(ctx, AuditEvent{Time: now, Account: key, Event: AuditCrossed, By: "milterd", Host: e.Accounts.Host, Detail: reason + " while suspended", Signal: signal})
	}
	if err != nil {
		e.alerted.forget(claim)
		return fmt.Errorf("recording a limit crossed while suspended: %w", err)
	}
	e.Log.Info("limit crossed while suspended", "account", key, "signal", signal, "reason", reason)
	return nil
}

// ClockSlack is how far the clocks of two hosts sharing a store may
// differ: each within the stores' default max_clock_skew (120 s: Redis'
// limits.redis, PostgreSQL's outguard.max_clock_skew) of the store's,
// so twice that of each other. Events two hosts stamped are ordered no
// finer (review rspare8).
const ClockSlack = 2 * 120 * time.Second

// CrossedSince is the first limit key crossed while suspended, as milterd
// counted it (markCrossed), after since (a suspension's start, or the
// account's later acknowledgement); "" when none.
func (e *Engine) CrossedSince(ctx context.Context, key string, since time.Time) (string, error) {
	if acked, err := e.Store.Acknowledged(ctx, key); err != nil {
		return "", err
	} else if acked.After(since) {
		since = acked
	}
	trail, err := e.Store.AuditTrail(ctx, key, since)
	if err != nil {
		return "", err
	}
	for _, ev := range trail {
		if ev.Event == AuditCrossed && ev.Time.After(since) {
			return ev.Detail, nil
		}
	}
	return "", nil
}
