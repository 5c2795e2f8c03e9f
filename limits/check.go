package limits

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"outguard/policy"
)

// Engine is the limits check in the pipeline, and the suspension logic the
// log follower shares.
type Engine struct {
	Store       Store
	Policy      *Policy
	Accounts    Accounts
	OnSuspended policy.Action // tempfail (default), reject or quarantine
	SuspendFor  time.Duration // 0: until released
	Escalate    Escalation    // with SuspendFor: repeat offenders until released
	Contact     string        // abuse contact named in the suspension reply
	Alert       *Alerter      // may be nil
	Log         *slog.Logger
	Now         func() time.Time
	Observer    Observer // may be nil
	Geo         Locator  // nil: no countries or ASNs (spread.go)
	// Timeout bounds each store call (0: none beyond the caller's
	// deadline): at MAIL and RCPT the MTA waits with no deadline of ours,
	// and a stopped server must cost the message limits.on_error, not
	// the MTA's milter timeout.
	Timeout time.Duration
	// Campaigns builds a message's campaign copy, counted in the
	// message's commit (campaignfold.go); nil: none.
	Campaigns Campaigner

	alerted  alertedSet   // account and limit -> end of the window this process claimed
	admitted atomic.Int64 // when a message was last admitted (Unix ms): the mail log must say so soon
}

// LastAdmitted is when a message was last admitted; zero if none yet.
func (e *Engine) LastAdmitted() time.Time {
	if ms := e.admitted.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// Observer learns of undeliverable recipients and refused messages
// counted, suspensions, and how the mail log follower keeps up.
type Observer interface {
	Undeliverable(source string, n int, suspended bool)
	RefusedMessages(source string, n int)
	Suspended(signal string) // refused messages, login spread or spam (spread.go)
	MaillogLag(bytes int64)
}

func (e *Engine) Name() string { return "limits" }

// bound is ctx ending at most Timeout from now.
func (e *Engine) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if e.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, e.Timeout)
}

type usageKey struct{}

// txState is what the limits check keeps between the stages of a message.
type txState struct {
	key       string
	lim       Limits
	usage     Usage
	suspended *Suspension // set when the account was suspended during this message
	inForce   bool        // the account was suspended when the message began
	err       error       // a store error at RCPT, answered at end-of-message
	// pending are the refusals at RCPT of an account not known yet (keyed
	// by a header): charged once it is.
	pending []Undeliverable
	refused bool // the message was counted as refused (at RCPT, 5.7.x)
	// spam is the message's spam verdict (CountSpam), counted by its
	// commit in the same round trip, or by Settle.
	spam *Sighting
}

func state(t *policy.Transaction) *txState {
	s, _ := t.Value(usageKey{}).(*txState)
	return s
}

// CheckMail refuses a suspended account, or one already over a message
// limit, before anything else is sent: one store round trip.
func (e *Engine) CheckMail(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	key, ok := e.Accounts.Key(t)
	if !ok {
		return policy.Verdict{Action: policy.Accept}, nil // keyed by a header: checked at end-of-message
	}
	return e.begin(ctx, t, key)
}

// begin reads the account's state for the transaction and records the
// login's sightings (one round trip, BeginMessage) and refuses it if one
// more message would cross a limit.
func (e *Engine) begin(ctx context.Context, t *policy.Transaction, key string) (policy.Verdict, error) {
	st := &txState{key: key, lim: e.Policy.For(key)}
	var pending []Undeliverable
	if prev := state(t); prev != nil {
		pending = prev.pending
	}
	t.SetValue(usageKey{}, st)
	now := e.Now()
	ctx, cancel := e.bound(ctx)
	defer cancel()
	// The login is recorded before the suspension is known (one round
	// trip): a suspended account's attempts show where its attacker tries
	// from, and count for nothing after an unsuspend (its acknowledgement).
	u, susp, spread, err := e.Store.BeginMessage(ctx, key, e.loginSightings(t, st.lim, now), now)
	if err != nil {
		return policy.Verdict{}, err
	}
	st.usage = u
	if susp.Active(now) {
		st.inForce = true
		for _, sig := range spreadSignals {
			if l := st.lim.Threshold(sig); l > 0 && spread[sig] > l {
				if err := e.markCrossed(ctx, key, sig, crossedReason(sig, spread[sig], l), susp, now); err != nil {
					e.Log.Warn("a limit crossed while suspended was not recorded; again at the next login", "account", key, "err", err)
				}
			}
		}
		// Refusals of a message keyed by a header, counted only now that
		// its account is known (review rspare7).
		if len(pending) > 0 {
			if _, err := e.undeliverable(ctx, key, pending, true); err != nil {
				return policy.Verdict{}, fmt.Errorf("counting refused recipients: %w", err)
			}
		}
		return e.suspendedVerdict(susp), nil
	}
	if len(pending) > 0 {
		if susp, err := e.Undeliverable(ctx, key, pending); err != nil {
			return policy.Verdict{}, fmt.Errorf("counting refused recipients: %w", err)
		} else if susp != nil {
			return e.suspendedVerdict(susp), nil
		}
	}
	if susp, err := e.spreadCrossed(ctx, key, st.lim, spread, now); err != nil {
		return policy.Verdict{}, err
	} else if susp != nil {
		return e.suspendedVerdict(susp), nil
	}
	if x := st.lim.Check(u, 1, len(t.Rcpts)); x != nil {
		return e.exceeded(key, x, u), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// CheckRcpt refuses the recipient that would cross a recipient limit,
// counting this message's recipients so far; no store round trip.
func (e *Engine) CheckRcpt(_ context.Context, t *policy.Transaction, _ string) (policy.Verdict, error) {
	st := state(t)
	if st == nil {
		return policy.Verdict{Action: policy.Accept}, nil
	}
	if st.suspended != nil {
		return e.suspendedVerdict(st.suspended), nil
	}
	if x := st.lim.Check(st.usage, 0, len(t.Rcpts)+1); x != nil {
		return e.exceeded(st.key, x, st.usage), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// RejectedRcpt counts a recipient the MTA refused permanently (5.x.x) as
// Classify says: an undeliverable recipient, or the message refused (once
// per message, e.g. 5.7.1); a temporary refusal is not evidence of
// anything. An account keyed by a header is known only at end-of-message:
// its refusals are kept until then. A store error is kept for
// end-of-message, where limits.on_error applies to it: the MTA has already
// answered this recipient.
func (e *Engine) RejectedRcpt(ctx context.Context, t *policy.Transaction, r policy.Recipient) error {
	if !r.Permanent() {
		return nil
	}
	scope := Classify(r.Status, r.Text)
	if scope == NotCounted {
		return nil
	}
	ev := Undeliverable{ID: "rcpt:" + t.ID + ":" + r.Addr, Time: e.Now(), Rcpt: r.Addr, Status: r.Status, Text: r.Text, Source: "rcpt"}
	if scope == MessageScope {
		ev.ID, ev.Kind = "rcpt:"+t.ID+":message", KindMessage
	}
	st := state(t)
	if st == nil {
		if _, ok := e.Accounts.Key(t); ok {
			return nil // not checked at MAIL: nothing to count against
		}
		st = &txState{} // keyed by a header: the account comes at end-of-message
		t.SetValue(usageKey{}, st)
	}
	if scope == MessageScope {
		if st.refused {
			return nil // the message counts once, whatever its recipients
		}
		st.refused = true
	}
	if st.key == "" {
		st.pending = append(st.pending, ev)
		return nil
	}
	// Once the account is suspended (before this message, or by an
	// earlier recipient of it), each further refused recipient is counted
	// and no more: re-reading the hour's evidence for a suspension that is
	// already in force would cost every RCPT more than the one before.
	susp, err := e.undeliverable(ctx, st.key, []Undeliverable{ev}, st.inForce || st.suspended != nil)
	if susp != nil {
		st.suspended = susp
	}
	if err != nil && st.err == nil {
		st.err = fmt.Errorf("counting a refused recipient: %w", err)
	}
	return err
}

// CheckMessage refuses a message whose account was suspended while it was
// being sent, and checks the accounts keyed by a header, known only now.
func (e *Engine) CheckMessage(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	st := state(t)
	if e.Accounts.Untrusted(t) {
		t.RemoveHeader(e.Accounts.TrustedHeader)
	}
	if st == nil || st.key == "" {
		key, ok := e.Accounts.KeyAtEnd(t)
		if !ok {
			return policy.Verdict{Action: policy.Accept}, nil
		}
		return e.begin(ctx, t, key)
	}
	if st.err != nil {
		return policy.Verdict{}, st.err
	}
	if st.suspended != nil {
		return e.suspendedVerdict(st.suspended), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// Commit counts the message, atomically with the limit check, so that
// concurrent sessions (and other smarthosts sharing Redis) cannot together
// exceed a limit. A message over a limit is refused and not counted. Its
// spam verdict, if any, is counted in the same round trip
// (CommitMessage).
func (e *Engine) Commit(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	st := state(t)
	if st == nil {
		return policy.Verdict{Action: policy.Accept}, nil
	}
	// Unlimited accounts are counted too: their records attribute bounces.
	now := e.Now()
	// Before the store's bound: building the copy may walk the message.
	cc := e.campaignCount(ctx, t, st.key)
	ctx, cancel := e.bound(ctx)
	defer cancel()
	var ss []Sighting
	if st.spam != nil {
		ss = []Sighting{*st.spam}
		st.spam = nil
	}
	u, ok, susp, n, err := e.Store.CommitMessage(ctx, st.key, Sent{Host: e.Accounts.Host, QueueID: t.QueueID, Rcpts: t.Rcpts, Time: now, Campaign: cc}, st.lim, ss, now)
	if err != nil {
		return policy.Verdict{}, err
	}
	if len(ss) > 0 {
		// The message is counted: failing it now would count its retry
		// again. The account's next spam verdict tries the suspension again.
		if err := e.spamCounted(ctx, t, st.key, st.lim, n, now); err != nil {
			e.Log.Error("suspending for spam_per_hour failed", "account", st.key, "qid", t.QueueID, "err", err)
		}
	}
	if susp != nil {
		// Suspended since this message's MAIL (issue 29): refused at end
		// of data, in the SMTP session, rather than queued and left to
		// containment's sweep.
		e.Log.Info("suspended during the message", "account", st.key, "qid", t.QueueID, "by", susp.By, "since", susp.Since)
		return e.suspendedVerdict(susp), nil
	}
	if !ok {
		if x := st.lim.Check(u, 1, len(t.Rcpts)); x != nil {
			return e.exceeded(st.key, x, u), nil
		}
		// The store refused without a suspension and the limits name no
		// crossing: the two disagree, so this is the store's failure (the
		// configured on_error action), never an accept.
		return policy.Verdict{}, fmt.Errorf("limits store refused %s's message with no limit reached (usage %+v)", st.key, u)
	}
	e.admitted.Store(now.UnixMilli())
	return policy.Verdict{Action: policy.Accept}, nil
}

// exceeded is the verdict for a limit reached; the abuse desk hears of it
// once per account, limit and window.
func (e *Engine) exceeded(key string, x *Exceeded, u Usage) policy.Verdict {
	// A message over a limit by itself (more recipients than the limit,
	// nothing counted yet) has no oldest bucket: its window is the next
	// whole one.
	now := e.Now()
	if !x.FreeAt.After(now) {
		x.FreeAt = now.Add(Hour)
		if strings.HasSuffix(x.What, "per day") {
			x.FreeAt = now.Add(Day)
		}
	}
	free := x.FreeAt.UTC().Format("15:04 MST")
	v := policy.New(policy.Tempfail, fmt.Sprintf("%s: limit of %d %s reached", key, x.Limit, x.What))
	// alerted spares the store a claim for every message refused in a
	// window this process has already claimed; the claim (FireOnce) is
	// what makes the fleet send it once.
	once := "limit " + x.What + " " + key // the account last: it may hold spaces, What does not
	if e.alerted.claim(once, x.FreeAt, now) {
		e.Log.Warn("sending limit reached", "account", key, "limit", x.Limit, "what", x.What, "until", x.FreeAt)
		e.Alert.FireOnce(once, x.FreeAt, Alert{Event: "limit", Account: key, Limit: x.Limit, What: x.What, Until: x.FreeAt, Usage: &u})
	}
	return v.WithText(fmt.Sprintf("Sending limit reached: %d %s; try again after %s", x.Limit, x.What, free))
}

func (e *Engine) suspendedVerdict(s *Suspension) policy.Verdict {
	v := policy.New(e.OnSuspended, fmt.Sprintf("%s suspended since %s: %s", s.Key, s.Since.UTC().Format(time.RFC3339), s.Reason))
	text := "Account suspended"
	if s.By == "milterd" {
		text += suspendedText(s.Signal)
	}
	if e.Contact != "" {
		text += "; contact " + e.Contact
	}
	return v.WithText(text)
}

// Undeliverable records events for key: undeliverable recipients and
// messages refused as a whole (Kind "message"), each against its own
// threshold, and suspends the account when one of its counts in the last
// hour reaches it. It returns the suspension it created, if any.
func (e *Engine) Undeliverable(ctx context.Context, key string, evs []Undeliverable) (*Suspension, error) {
	return e.undeliverable(ctx, key, evs, false)
}

// undeliverable is Undeliverable; suspended: key is known to be suspended
// already, so the events are only counted.
func (e *Engine) undeliverable(ctx context.Context, key string, evs []Undeliverable, suspended bool) (*Suspension, error) {
	var rcpts, msgs []Undeliverable
	for _, ev := range evs {
		if ev.Kind == KindMessage {
			msgs = append(msgs, ev)
		} else {
			rcpts = append(rcpts, ev)
		}
	}
	lim := e.Policy.For(key)
	ctx, cancel := e.bound(ctx)
	defer cancel()
	for _, c := range []struct {
		evs       []Undeliverable
		threshold int
		add       func(context.Context, string, []Undeliverable, time.Time) (int, error)
		list      func(context.Context, string, time.Time) ([]Undeliverable, error)
		what      string
		signal    string
	}{
		{rcpts, lim.UndeliverablePerHour, e.Store.AddUndeliverable, e.Store.Undeliverables, "undeliverable recipients", SignalUndeliverable},
		{msgs, lim.RefusedMessagesPerHour, e.Store.AddRefused, e.Store.Refused, "refused messages", SignalRefused},
	} {
		if len(c.evs) == 0 {
			continue
		}
		// The hour is the one up to the newest of these events, not up to
		// now: a follower catching up on a backlog (after an outage) judges
		// each burst by when it happened.
		end := c.evs[0].Time
		for _, ev := range c.evs[1:] {
			if ev.Time.After(end) {
				end = ev.Time
			}
		}
		n, err := c.add(ctx, key, c.evs, end)
		if err != nil {
			return nil, err
		}
		e.Log.Info(c.what, "account", key, "new", len(c.evs), "last_hour", n, "threshold", c.threshold, "source", c.evs[0].Source)
		e.observe(c.evs[0].Source, c.evs[0].Kind, len(c.evs), false)
		if c.threshold <= 0 || n < c.threshold {
			continue
		}
		reason := fmt.Sprintf("%d %s within an hour (threshold %d)", n, c.what, c.threshold)
		if suspended {
			if err := e.markCrossed(ctx, key, c.signal, reason, nil, e.Now()); err != nil {
				return nil, err
			}
			continue
		}
		since := end.Add(-Hour)
		if acked, err := e.Store.Acknowledged(ctx, key); err != nil {
			return nil, err
		} else if acked.After(since) {
			since = acked
		}
		evidence, err := c.list(ctx, key, since)
		if err != nil {
			return nil, err
		}
		now := e.Now()
		s := Suspension{
			Key:      key,
			Since:    now,
			Reason:   reason,
			By:       "milterd",
			Signal:   c.signal,
			Evidence: evidence,
		}
		created, err := e.autoSuspend(ctx, &s, now) // an expired suspension gives way
		if err != nil {
			return nil, err
		}
		if !created {
			return nil, e.markCrossed(ctx, key, c.signal, reason, nil, now)
		}
		e.Log.Warn("account suspended", "account", key, "reason", s.Reason, "until", s.Until)
		e.Alert.Fire(Alert{Event: "suspended", Account: key, Signal: c.signal, Suspension: &s})
		e.observe(c.evs[0].Source, c.evs[0].Kind, 0, true)
		return &s, nil
	}
	return nil, nil
}

func (e *Engine) observe(source, kind string, n int, suspended bool) {
	switch {
	case e.Observer == nil:
	case kind == KindMessage && suspended:
		e.Observer.Suspended(SignalRefused)
	case kind == KindMessage:
		e.Observer.RefusedMessages(source, n)
	default:
		e.Observer.Undeliverable(source, n, suspended)
	}
}
