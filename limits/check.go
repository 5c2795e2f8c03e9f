package limits

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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

	alerted sync.Map // account and limit -> end of the window alerted for
}

// Observer learns of undeliverable recipients counted and suspensions.
type Observer interface {
	Undeliverable(source string, n int, suspended bool)
	Suspended(signal string) // login spread or spam (spread.go)
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

// begin reads the account's state for the transaction (one round trip)
// and refuses it if one more message would cross a limit.
func (e *Engine) begin(ctx context.Context, t *policy.Transaction, key string) (policy.Verdict, error) {
	st := &txState{key: key, lim: e.Policy.For(key)}
	t.SetValue(usageKey{}, st)
	now := e.Now()
	ctx, cancel := e.bound(ctx)
	defer cancel()
	u, susp, err := e.Store.Usage(ctx, key, now)
	if err != nil {
		return policy.Verdict{}, err
	}
	st.usage = u
	if susp.Active(now) {
		st.inForce = true
		return e.suspendedVerdict(susp), nil
	}
	if susp, err := e.sightLogin(ctx, t, key, st.lim); err != nil {
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
// undeliverable; a temporary refusal is not evidence of anything. A store
// error is kept for end-of-message, where limits.on_error applies to it:
// the MTA has already answered this recipient.
func (e *Engine) RejectedRcpt(ctx context.Context, t *policy.Transaction, r policy.Recipient) error {
	if !r.Permanent() {
		return nil
	}
	st := state(t)
	if st == nil {
		return nil
	}
	now := e.Now()
	// Once the account is suspended (before this message, or by an
	// earlier recipient of it), each further refused recipient is counted
	// and no more: re-reading the hour's evidence for a suspension that is
	// already in force would cost every RCPT more than the one before.
	susp, err := e.undeliverable(ctx, st.key, []Undeliverable{{
		ID: "rcpt:" + t.ID + ":" + r.Addr, Time: now, Rcpt: r.Addr, Status: r.Status, Text: r.Text, Source: "rcpt",
	}}, st.inForce || st.suspended != nil)
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
	if st == nil {
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
// exceed a limit. A message over a limit is refused and not counted.
func (e *Engine) Commit(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	st := state(t)
	if st == nil {
		return policy.Verdict{Action: policy.Accept}, nil
	}
	// Unlimited accounts are counted too: their records attribute bounces.
	now := e.Now()
	ctx, cancel := e.bound(ctx)
	defer cancel()
	u, ok, err := e.Store.Admit(ctx, st.key, Sent{Host: e.Accounts.Host, QueueID: t.QueueID, Rcpts: t.Rcpts, Time: now}, st.lim, now)
	if err != nil {
		return policy.Verdict{}, err
	}
	if x := st.lim.Check(u, 1, len(t.Rcpts)); !ok && x != nil {
		return e.exceeded(st.key, x, u), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// exceeded is the verdict for a limit reached; the abuse desk hears of it
// once per account, limit and window.
func (e *Engine) exceeded(key string, x *Exceeded, u Usage) policy.Verdict {
	free := x.FreeAt.UTC().Format("15:04 MST")
	v := policy.New(policy.Tempfail, fmt.Sprintf("%s: limit of %d %s reached", key, x.Limit, x.What))
	if prev, loaded := e.alerted.Swap(key+"\x00"+x.What, x.FreeAt); !loaded || !prev.(time.Time).After(e.Now()) {
		e.Log.Warn("sending limit reached", "account", key, "limit", x.Limit, "what", x.What, "until", x.FreeAt)
		e.Alert.Fire(Alert{Event: "limit", Account: key, Limit: x.Limit, What: x.What, Until: x.FreeAt, Usage: &u})
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

// Undeliverable records events for key and suspends the account when its
// count in the last hour reaches its threshold. It returns the suspension
// it created, if any.
func (e *Engine) Undeliverable(ctx context.Context, key string, evs []Undeliverable) (*Suspension, error) {
	return e.undeliverable(ctx, key, evs, false)
}

// undeliverable is Undeliverable; suspended: key is known to be suspended
// already, so the events are only counted.
func (e *Engine) undeliverable(ctx context.Context, key string, evs []Undeliverable, suspended bool) (*Suspension, error) {
	lim := e.Policy.For(key)
	now := e.Now()
	ctx, cancel := e.bound(ctx)
	defer cancel()
	// The hour is the one up to the newest of these events, not up to now:
	// a follower catching up on a backlog (after an outage) judges each
	// burst by when it happened.
	end := evs[0].Time
	for _, ev := range evs[1:] {
		if ev.Time.After(end) {
			end = ev.Time
		}
	}
	n, err := e.Store.AddUndeliverable(ctx, key, evs, end)
	if err != nil {
		return nil, err
	}
	e.Log.Info("undeliverable recipients", "account", key, "new", len(evs), "last_hour", n, "threshold", lim.UndeliverablePerHour, "source", evs[0].Source)
	e.observe(evs[0].Source, len(evs), false)
	if suspended || lim.UndeliverablePerHour <= 0 || n < lim.UndeliverablePerHour {
		return nil, nil
	}
	since := end.Add(-Hour)
	if acked, err := e.Store.Acknowledged(ctx, key); err != nil {
		return nil, err
	} else if acked.After(since) {
		since = acked
	}
	evidence, err := e.Store.Undeliverables(ctx, key, since)
	if err != nil {
		return nil, err
	}
	s := Suspension{
		Key:      key,
		Since:    now,
		Reason:   fmt.Sprintf("%d undeliverable recipients within an hour (threshold %d)", n, lim.UndeliverablePerHour),
		By:       "milterd",
		Signal:   SignalUndeliverable,
		Evidence: evidence,
	}
	if e.SuspendFor > 0 {
		s.Until = now.Add(e.SuspendFor)
	}
	created, err := e.Store.Suspend(ctx, s, now) // an expired suspension gives way
	if err != nil || !created {
		return nil, err
	}
	e.Log.Warn("account suspended", "account", key, "reason", s.Reason, "until", s.Until)
	e.Alert.Fire(Alert{Event: "suspended", Account: key, Signal: SignalUndeliverable, Suspension: &s})
	e.observe(evs[0].Source, 0, true)
	return &s, nil
}

func (e *Engine) observe(source string, n int, suspended bool) {
	if e.Observer != nil {
		e.Observer.Undeliverable(source, n, suspended)
	}
}
