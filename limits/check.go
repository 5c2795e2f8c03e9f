package limits

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"outguard/policy"
)

// Engine is the limits check in the pipeline, and the suspension logic the
// log follower shares.
type Engine struct {
	Store       Store
	Policy      *Policy
	OnSuspended policy.Action // tempfail (default), reject or quarantine
	SuspendFor  time.Duration // 0: until released
	Contact     string        // abuse contact named in the suspension reply
	Alert       *Alerter      // may be nil
	Log         *slog.Logger
	Now         func() time.Time
	Observer    Observer // may be nil
}

// Observer learns of undeliverable recipients counted and suspensions.
type Observer interface {
	Undeliverable(source string, n int, suspended bool)
	MaillogLag(bytes int64)
}

func (e *Engine) Name() string { return "limits" }

// Key is the account a transaction counts against: the SASL login, or the
// client address for mail without one.
func Key(t *policy.Transaction) string {
	if t.User != "" {
		return t.User
	}
	if t.Conn.Addr.IsValid() {
		return "ip:" + t.Conn.Addr.Unmap().String()
	}
	return "ip:unknown"
}

type usageKey struct{}

// txState is what the limits check keeps between the stages of a message.
type txState struct {
	key       string
	lim       Limits
	usage     Usage
	suspended *Suspension // set when the account was suspended during this message
}

func state(t *policy.Transaction) *txState {
	s, _ := t.Value(usageKey{}).(*txState)
	return s
}

// CheckMail refuses a suspended account, or one already over a message
// limit, before anything else is sent: one store round trip.
func (e *Engine) CheckMail(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	key := Key(t)
	st := &txState{key: key, lim: e.Policy.For(key)}
	t.SetValue(usageKey{}, st)
	u, susp, err := e.Store.Usage(ctx, key, e.Now())
	if err != nil {
		return policy.Verdict{}, err
	}
	st.usage = u
	if susp.Active(e.Now()) {
		return e.suspendedVerdict(susp), nil
	}
	if x := st.lim.Check(u, 1, 0); x != nil {
		return exceeded(key, x), nil
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
		return exceeded(st.key, x), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// RejectedRcpt counts a recipient the MTA refused permanently (5.x.x) as
// undeliverable; a temporary refusal is not evidence of anything.
func (e *Engine) RejectedRcpt(ctx context.Context, t *policy.Transaction, r policy.Recipient) error {
	if !r.Permanent() {
		return nil
	}
	st := state(t)
	if st == nil {
		return nil
	}
	now := e.Now()
	susp, err := e.Undeliverable(ctx, st.key, []Undeliverable{{
		ID: "rcpt:" + t.ID + ":" + r.Addr, Time: now, Rcpt: r.Addr, Status: r.Status, Text: r.Text, Source: "rcpt",
	}})
	if susp != nil {
		st.suspended = susp
	}
	return err
}

// CheckMessage refuses a message whose account was suspended while it was
// being sent.
func (e *Engine) CheckMessage(_ context.Context, t *policy.Transaction) (policy.Verdict, error) {
	if st := state(t); st != nil && st.suspended != nil {
		return e.suspendedVerdict(st.suspended), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// Commit counts the message, atomically with the limit check, so that
// concurrent sessions (and other smarthosts sharing Redis) cannot together
// exceed a limit. A message over a limit is refused and not counted.
func (e *Engine) Commit(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	st := state(t)
	if st == nil || st.lim.Unlimited() {
		return policy.Verdict{Action: policy.Accept}, nil
	}
	now := e.Now()
	u, ok, err := e.Store.Admit(ctx, st.key, Sent{ID: t.ID, QueueID: t.QueueID, Rcpts: t.Rcpts, Time: now}, st.lim, now)
	if err != nil {
		return policy.Verdict{}, err
	}
	if x := st.lim.Check(u, 1, len(t.Rcpts)); !ok && x != nil {
		return exceeded(st.key, x), nil
	}
	return policy.Verdict{Action: policy.Accept}, nil // admitted, or counted already
}

func exceeded(key string, x *Exceeded) policy.Verdict {
	free := x.FreeAt.UTC().Format("15:04 MST")
	v := policy.New(policy.Tempfail, fmt.Sprintf("%s: limit of %d %s reached", key, x.Limit, x.What))
	return v.WithText(fmt.Sprintf("Sending limit reached: %d %s; try again after %s", x.Limit, x.What, free))
}

func (e *Engine) suspendedVerdict(s *Suspension) policy.Verdict {
	v := policy.New(e.OnSuspended, fmt.Sprintf("%s suspended since %s: %s", s.Key, s.Since.UTC().Format(time.RFC3339), s.Reason))
	text := "Account suspended"
	if s.By == "milterd" {
		text += " for sending to too many undeliverable recipients"
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
	lim := e.Policy.For(key)
	now := e.Now()
	n, err := e.Store.AddUndeliverable(ctx, key, evs, now)
	if err != nil {
		return nil, err
	}
	e.Log.Info("undeliverable recipients", "account", key, "new", len(evs), "last_hour", n, "threshold", lim.UndeliverablePerHour, "source", evs[0].Source)
	e.observe(evs[0].Source, len(evs), false)
	if lim.UndeliverablePerHour <= 0 || n < lim.UndeliverablePerHour {
		return nil, nil
	}
	evidence, err := e.Store.Undeliverables(ctx, key, now.Add(-Hour))
	if err != nil {
		return nil, err
	}
	s := Suspension{
		Key:      key,
		Since:    now,
		Reason:   fmt.Sprintf("%d undeliverable recipients within an hour (threshold %d)", n, lim.UndeliverablePerHour),
		By:       "milterd",
		Evidence: evidence,
	}
	if e.SuspendFor > 0 {
		s.Until = now.Add(e.SuspendFor)
	}
	// An expired suspension (suspend_for) gives way to the new one.
	if _, cur, err := e.Store.Usage(ctx, key, now); err == nil && cur != nil && !cur.Active(now) {
		e.Store.Unsuspend(ctx, key)
	}
	created, err := e.Store.Suspend(ctx, s)
	if err != nil || !created {
		return nil, err
	}
	e.Log.Warn("account suspended", "account", key, "reason", s.Reason, "until", s.Until)
	e.Alert.Fire(s)
	e.observe(evs[0].Source, 0, true)
	return &s, nil
}

func (e *Engine) observe(source string, n int, suspended bool) {
	if e.Observer != nil {
		e.Observer.Undeliverable(source, n, suspended)
	}
}
