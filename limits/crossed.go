package limits

import (
	"context"
	"fmt"
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
// as a suspension's reason says it) while suspended (since: when the
// suspension in force began, zero when not known). Once a clock hour per
// account, signal and suspension on a host (alerted: a botnet trying a
// suspended account's credentials crosses it again at each login); a
// failure is logged, and tried again at the next crossing.
func (e *Engine) markCrossed(ctx context.Context, key, signal, reason string, since, now time.Time) {
	hour := now.Truncate(Hour)
	claim := fmt.Sprintf("crossed\x00%s\x00%s\x00%d\x00%d", signal, key, since.UnixMilli(), hour.Unix())
	if !e.alerted.claim(claim, hour.Add(Hour), now) {
		return
	}
	ev := AuditEvent{Time: now, Account: key, Event: AuditCrossed, By: "milterd", Host: e.Accounts.Host, Detail: reason + " while suspended"}
	if err := e.Store.Audit(ctx, ev); err != nil {
		e.alerted.forget(claim)
		e.Log.Warn("audit trail: a limit crossed while suspended was not recorded", "account", key, "signal", signal, "err", err)
		return
	}
	e.Log.Info("limit crossed while suspended", "account", key, "signal", signal, "reason", reason)
}

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
