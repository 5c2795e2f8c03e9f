package policy

import (
	"context"
	"fmt"
	"log/slog"
)

// Check is an engine in the pipeline. It implements one or more of the stage
// interfaces below; the pipeline calls each at its stage.
type Check interface {
	Name() string
}

// MailChecker decides at MAIL FROM, so that a client learns early.
type MailChecker interface {
	CheckMail(ctx context.Context, t *Transaction) (Verdict, error)
}

// RcptChecker decides on one accepted recipient at RCPT TO. A tempfail or
// reject refuses that recipient only.
type RcptChecker interface {
	CheckRcpt(ctx context.Context, t *Transaction, rcpt string) (Verdict, error)
}

// MessageChecker decides at end-of-message, with the whole message spooled.
type MessageChecker interface {
	CheckMessage(ctx context.Context, t *Transaction) (Verdict, error)
}

// Entry is a check with its failure policy: the action taken when the check
// returns an error (engine unreachable, timed out, broken input).
type Entry struct {
	Check   Check
	OnError Action
}

// Pipeline runs checks in order; the strongest verdict wins.
type Pipeline struct {
	entries []Entry
	log     *slog.Logger
}

// NewPipeline returns a pipeline running entries in order.
func NewPipeline(log *slog.Logger, entries ...Entry) *Pipeline {
	return &Pipeline{entries: entries, log: log}
}

// Names lists the checks, in order, for the start-up log.
func (p *Pipeline) Names() []string {
	names := make([]string, len(p.entries))
	for i, e := range p.entries {
		names[i] = e.Check.Name()
	}
	return names
}

// Mail runs the MAIL FROM stage.
func (p *Pipeline) Mail(ctx context.Context, t *Transaction) Verdict {
	return p.run(ctx, t, func(c Check) (Verdict, bool, error) {
		m, ok := c.(MailChecker)
		if !ok {
			return Verdict{}, false, nil
		}
		v, err := m.CheckMail(ctx, t)
		return v, true, err
	})
}

// Rcpt runs the RCPT TO stage for one recipient the MTA accepted.
func (p *Pipeline) Rcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	return p.run(ctx, t, func(c Check) (Verdict, bool, error) {
		r, ok := c.(RcptChecker)
		if !ok {
			return Verdict{}, false, nil
		}
		v, err := r.CheckRcpt(ctx, t, rcpt)
		return v, true, err
	})
}

// Message runs the end-of-message stage.
func (p *Pipeline) Message(ctx context.Context, t *Transaction) Verdict {
	return p.run(ctx, t, func(c Check) (Verdict, bool, error) {
		m, ok := c.(MessageChecker)
		if !ok {
			return Verdict{}, false, nil
		}
		v, err := m.CheckMessage(ctx, t)
		return v, true, err
	})
}

func (p *Pipeline) run(ctx context.Context, t *Transaction, call func(Check) (Verdict, bool, error)) Verdict {
	best := Verdict{Action: Accept}
	for _, e := range p.entries {
		name := e.Check.Name()
		v, ran, err := call(e.Check)
		if !ran {
			continue
		}
		if err != nil {
			v = p.failure(t, e, err)
		} else if verr := v.Validate(); verr != nil {
			// A check that builds a bad reply is a bug in the check; treat
			// it like an engine error rather than sending garbage to the MTA.
			v = p.failure(t, e, fmt.Errorf("invalid verdict: %w", verr))
		}
		v.Check = name
		if v.Stronger(best) {
			best = v
		}
		if best.Action == Reject || ctx.Err() != nil {
			break
		}
	}
	return best
}

// failure turns an engine error into the engine's configured action. An
// accept is never silent: it is stamped on the message and logged.
func (p *Pipeline) failure(t *Transaction, e Entry, err error) Verdict {
	name := e.Check.Name()
	reason := fmt.Sprintf("%s failed: %v", name, err)
	p.log.Warn("check failed", "check", name, "err", err, "on_error", e.OnError.String(), "qid", t.QueueID)
	if e.OnError == Accept {
		t.Stamp(name + ": not checked")
		return Verdict{Action: Accept, Reason: reason}
	}
	v := New(e.OnError, reason)
	if e.OnError == Tempfail {
		v.Text = "Temporary failure in outbound message checks, try again later"
	}
	return v
}
