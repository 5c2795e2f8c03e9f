package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditEvent is one entry of the accounts' audit trail: what happened to
// an account's suspension or its queued mail, who did it and on which
// smarthost.
type AuditEvent struct {
	Time    time.Time `json:"time"`
	Account string    `json:"account"`
	Event   string    `json:"event"` // one of the Audit* constants
	By      string    `json:"by"`    // "milterd" or the operator
	Host    string    `json:"host"`
	Detail  string    `json:"detail,omitempty"`
	// Campaign: the campaign of an automatic suspension for one, and of
	// a spare (AuditSpared).
	Campaign string `json:"campaign,omitempty"`
	// Signal: the signal of a limit crossed while suspended (AuditCrossed).
	Signal string `json:"signal,omitempty"`
}

// Audit events.
const (
	AuditSuspended     = "suspended"      // automatic, for suspend_for, or manual
	AuditEscalated     = "escalated"      // automatic, until an operator lifts it
	AuditUnsuspended   = "unsuspended"    // lifted by an operator
	AuditQueueHeld     = "queue held"     // containment/
	AuditQueueDeleted  = "queue deleted"  // containment/
	AuditQueueReleased = "queue released" // containment/
	AuditExpired       = "expired"        // an automatic suspension's suspend_for ended
	AuditAlertLost     = "alert lost"     // courier.go gave up an alert after MaxAge
	AuditSpared        = "spared"         // spared for a campaign: its suspensions for it until then count toward no escalation
	AuditCrossed       = "crossed"        // a limit crossed while suspended (for something else): what would have suspended it (CrossedSince)
	AuditPutBack       = "put back"       // a spare's lift undone (PutBack): the suspensions its spared event voided count again
)

// Escalation makes repeated automatic suspensions permanent: the After-th
// within Within lasts until an operator lifts it (MailChannels' "[ESA]",
// SpamExperts' "Maximum unlocks by timeout"). After 0: never.
type Escalation struct {
	After  int
	Within time.Duration
}

// autoSuspend records s, an automatic suspension, for SuspendFor, or until
// lifted when it is the Escalate.After-th within Escalate.Within (counted
// in the audit trail). It reports whether s was recorded (an active
// suspension stays as it is).
func (e *Engine) autoSuspend(ctx context.Context, s *Suspension, now time.Time) (bool, error) {
	if e.SuspendFor > 0 {
		s.Until = now.Add(e.SuspendFor)
	}
	if x := e.Escalate; x.After > 0 && e.SuspendFor > 0 {
		past, err := e.Store.AuditTrail(ctx, s.Key, now.Add(-x.Within))
		if err != nil {
			return false, err
		}
		n := 1
		for _, ev := range past {
			if ev.By == "milterd" && (ev.Event == AuditSuspended || ev.Event == AuditEscalated) && !voided(past, ev) {
				n++
			}
		}
		if n >= x.After {
			s.Until = time.Time{}
			s.Escalated = true
			s.Reason += fmt.Sprintf("; automatic suspension %d within %s: until an operator lifts it", n, x.Within)
		}
	}
	created, err := e.Store.Suspend(ctx, *s, now)
	if err != nil || !created {
		return false, err
	}
	ev := AuditEvent{Time: now, Account: s.Key, Event: AuditSuspended, By: "milterd", Host: e.Accounts.Host, Detail: s.Reason}
	if s.Signal == SignalCampaign && len(s.Sightings) > 0 {
		ev.Campaign = s.Sightings[0].Value
	}
	if s.Escalated {
		ev.Event = AuditEscalated
	} else if !s.Until.IsZero() {
		ev.Detail += "; until " + s.Until.UTC().Format(time.RFC3339)
	}
	if err := e.Store.Audit(ctx, ev); err != nil {
		// The suspension is in force; only its trail (and the count
		// toward an escalation) is missing.
		e.Log.Error("audit trail: the suspension was not recorded", "account", s.Key, "err", err)
	}
	return true, nil
}

// voided reports whether the automatic suspension ev was judged wrong: a
// spare of its campaign (AuditSpared) recorded at or after it, and not
// undone (AuditPutBack at or after that spare: the lift found the
// account had sent another campaign, review rspare8, rspare9: every
// suspension it voided counts again). One after the spare (the spare
// ended, or the text a new campaign later) counts (review rspare3: a
// spare voided them all, for good).
func voided(past []AuditEvent, ev AuditEvent) bool {
	return ev.Campaign != "" && slices.ContainsFunc(past, func(sp AuditEvent) bool {
		return sp.Event == AuditSpared && sp.Campaign == ev.Campaign && !sp.Time.Before(ev.Time) &&
			!slices.ContainsFunc(past, func(pb AuditEvent) bool {
				return pb.Event == AuditPutBack && pb.Campaign == ev.Campaign && !pb.Time.Before(sp.Time)
			})
	})
}

// auditSchema is the audit trail's table, the same on SQLite and
// PostgreSQL. It is created outside the limits schema's versions (on
// PostgreSQL as the component "limits_audit"), so that it adds to that
// schema without renumbering it.
const auditSchema = `CREATE TABLE IF NOT EXISTS account_audit (t BIGINT NOT NULL, key TEXT NOT NULL, ev TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS account_audit_key ON account_audit (key, t);
CREATE INDEX IF NOT EXISTS account_audit_t ON account_audit (t);`

func (s *SQLStore) Audit(ctx context.Context, ev AuditEvent) error {
	js, _ := json.Marshal(ev)
	_, err := s.exec(ctx, s.db, `INSERT INTO account_audit (t, key, ev) VALUES ($1, $2, $3)`, ms(ev.Time), ev.Account, string(js))
	return err
}

func (s *SQLStore) AuditTrail(ctx context.Context, key string, since time.Time) ([]AuditEvent, error) {
	if key == "" {
		return queryJSON[AuditEvent](ctx, s.db, s.d.Rebind(`SELECT ev FROM account_audit WHERE t >= $1 ORDER BY t`), ms(since))
	}
	// One account's by its index (key, t): an OR with the whole trail
	// made SQLite read it all (review rspare8).
	return queryJSON[AuditEvent](ctx, s.db, s.d.Rebind(`SELECT ev FROM account_audit WHERE key = $1 AND t >= $2 ORDER BY t`), key, ms(since))
}

// Redis: og:audit (every event) and og:audit:{account}, sorted sets of
// event JSON scored by time, written together.
func (r *Redis) Audit(ctx context.Context, ev AuditEvent) error {
	js, _ := json.Marshal(ev)
	z := redis.Z{Score: float64(ms(ev.Time)), Member: string(js)}
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, "og:audit", z)
		p.ZAdd(ctx, "og:audit:"+ev.Account, z)
		return nil
	})
	return err
}

func (r *Redis) AuditTrail(ctx context.Context, key string, since time.Time) ([]AuditEvent, error) {
	k := "og:audit"
	if key != "" {
		k += ":" + key
	}
	all, err := r.c.ZRangeByScore(ctx, k, &redis.ZRangeBy{Min: strconv.FormatInt(ms(since), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	return decodeAll[AuditEvent](all)
}

// AuditExpiries records in the audit trail each suspension that ended by
// its own time (suspend_for, or a manual --for) and is not recorded yet,
// at the time it ended; milterd runs it with its purge. The event names
// no host (time ended it, not a smarthost): two hosts recording one
// expiry at the same moment write the same event (one on Redis, whose
// trail is a set; two identical lines at worst on SQL).
func AuditExpiries(ctx context.Context, st Store, now time.Time) (int, error) {
	susps, err := st.Suspensions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range susps {
		if s.Until.IsZero() || s.Active(now) {
			continue
		}
		trail, err := st.AuditTrail(ctx, s.Key, s.Until)
		if err != nil {
			return n, err
		}
		if slices.ContainsFunc(trail, func(ev AuditEvent) bool { return ev.Event == AuditExpired && ev.Time.Equal(s.Until) }) {
			continue
		}
		ev := AuditEvent{Time: s.Until, Account: s.Key, Event: AuditExpired, By: "suspend_for", Detail: "suspended since " + s.Since.UTC().Format(time.RFC3339) + " by " + s.By + ": " + s.Reason}
		if err := st.Audit(ctx, ev); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
