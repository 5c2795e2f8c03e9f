package policy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"outguard/internal/worker"
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

// RejectObserver learns of the recipients the MTA refused itself
// (SMFIP_RCPT_REJ). The MTA has already answered the client.
type RejectObserver interface {
	RejectedRcpt(ctx context.Context, t *Transaction, r Recipient) error
}

// Committer records a message about to be accepted, once every check has
// passed it. It may still refuse it, e.g. a limit crossed concurrently.
type Committer interface {
	Commit(ctx context.Context, t *Transaction) (Verdict, error)
}

// Settler is a Committer that keeps what the message checks counted for
// its commit's round trip (limits: a spam verdict); a message not
// accepted at end-of-message gets no commit, so Settle writes it instead.
type Settler interface {
	Settle(ctx context.Context, t *Transaction) error
}

// Streamer reads the message while it arrives, from the header block on,
// so that a scan ends shortly after end-of-message instead of starting then.
// OpenStream may return no Stream and no error: the check then reads the
// spooled message at end-of-message, as a MessageChecker.
type Streamer interface {
	OpenStream(ctx context.Context, t *Transaction) (Stream, error)
}

// Stream receives the message bytes as they arrive and gives its verdict at
// end-of-message. Write keeps its errors for Verdict to report.
type Stream interface {
	Write(p []byte) (int, error)
	Verdict(ctx context.Context) (Verdict, error)
	Close()
}

// Versioned is a check whose version belongs in every verdict line, the
// verdicts it did not take part in too (a refusal at MAIL, a timeout, an
// abort): clamd's signature version says what a message would have been
// scanned with.
type Versioned interface {
	VersionNote() string // "clamd ClamAV 1.4.6/27000/…"; "" until known
}

// VersionNotes are the notes of the Versioned checks.
func (p *Pipeline) VersionNotes() []string {
	var out []string
	for _, e := range p.entries {
		if v, ok := e.Check.(Versioned); ok {
			if n := v.VersionNote(); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// Entry is a check with its failure policy: the action taken when the check
// returns an error (engine unreachable, timed out, broken input).
type Entry struct {
	Check   Check
	OnError Action
}

// Observer learns how long each check took and whether it failed: the
// seam where metrics are taken, so engines need no metrics code.
type Observer interface {
	ObserveCheck(check string, d time.Duration, err error)
}

// Pipeline runs checks in order; the strongest verdict wins.
type Pipeline struct {
	entries []Entry
	log     *slog.Logger
	obs     Observer
	commit  time.Duration
}

// DefaultCommitTimeout is the commits' deadline (see CommitContext)
// unless WithCommitTimeout sets another.
const DefaultCommitTimeout = 10 * time.Second

// NewPipeline returns a pipeline running entries in order.
func NewPipeline(log *slog.Logger, entries ...Entry) *Pipeline {
	return &Pipeline{entries: entries, log: log, commit: DefaultCommitTimeout}
}

// WithCommitTimeout returns p giving a message's commits d (commit_timeout).
func (p *Pipeline) WithCommitTimeout(d time.Duration) *Pipeline {
	p.commit = d
	return p
}

// CommitContext is the context of a message's commits (counting it,
// holding it): the session's, with a deadline of its own from now. They
// run after the checks, so a message_timeout the checks used up must not
// fail them (a check with on_error: accept that did not answer would
// otherwise tempfail every message through the commit), and a store that
// does not answer must not hold the MTA: a commit that cannot finish by
// then fails and is not committed later (the stores take ctx's deadline).
func (p *Pipeline) CommitContext(session context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(session, p.commit, fmt.Errorf("commit_timeout (%v) passed", p.commit))
}

// WithObserver returns p reporting to o.
func (p *Pipeline) WithObserver(o Observer) *Pipeline {
	p.obs = o
	return p
}

// Names lists the checks, in order, for the start-up log.
func (p *Pipeline) Names() []string {
	names := make([]string, len(p.entries))
	for i, e := range p.entries {
		names[i] = e.Check.Name()
	}
	return names
}

// Open starts the streams of the Streamer checks, at end-of-headers. It
// reports whether any stream wants the message bytes.
func (p *Pipeline) Open(ctx context.Context, t *Transaction) bool {
	t.streams = make([]openStream, len(p.entries))
	wants := false
	for i, e := range p.entries {
		if s, ok := e.Check.(Streamer); ok {
			st, err := s.OpenStream(ctx, t)
			if st == nil && err == nil {
				continue
			}
			t.streams[i] = openStream{s: st, err: err, open: true}
			wants = wants || err == nil
		}
	}
	return wants
}

// Write passes message bytes to every open stream.
func (p *Pipeline) Write(t *Transaction, b []byte) {
	for _, s := range t.streams {
		if s.err == nil && s.s != nil {
			s.s.Write(b)
		}
	}
}

// Close releases the streams; the milter glue calls it whenever a
// transaction ends, also on abort.
func (p *Pipeline) Close(t *Transaction) {
	for _, s := range t.streams {
		if s.err == nil && s.s != nil {
			s.s.Close()
		}
	}
	t.streams = nil
}

// step is what a check does at a stage; a stage's pick returns nil for a
// check that takes no part in it, so that it costs nothing there.
type step func() (Verdict, error)

// Mail runs the MAIL FROM stage.
func (p *Pipeline) Mail(ctx context.Context, t *Transaction) Verdict {
	return p.run(ctx, t, func(_ int, c Check) step {
		if m, ok := c.(MailChecker); ok {
			return func() (Verdict, error) { return m.CheckMail(ctx, t) }
		}
		return nil
	})
}

// Rcpt runs the RCPT TO stage for one recipient the MTA accepted.
func (p *Pipeline) Rcpt(ctx context.Context, t *Transaction, rcpt string) Verdict {
	return p.run(ctx, t, func(_ int, c Check) step {
		if r, ok := c.(RcptChecker); ok {
			return func() (Verdict, error) { return r.CheckRcpt(ctx, t, rcpt) }
		}
		return nil
	})
}

// Rejected tells the observers about a recipient the MTA refused.
func (p *Pipeline) Rejected(ctx context.Context, t *Transaction, r Recipient) {
	for _, e := range p.entries {
		if o, ok := e.Check.(RejectObserver); ok {
			if err := o.RejectedRcpt(ctx, t, r); err != nil {
				p.log.Warn("check failed on a rejected recipient", "check", e.Check.Name(), "err", err, "rcpt", r.Addr)
			}
		}
	}
}

// Message runs the end-of-message stage: the verdicts of the streams and
// the message checks within ctx (message_timeout), then, if the message is
// to be accepted, the commits within CommitContext(session).
func (p *Pipeline) Message(ctx, session context.Context, t *Transaction) Verdict {
	v := p.message(ctx, t)
	cctx, cancel := p.CommitContext(session)
	defer cancel()
	if v.Action != Accept {
		p.settle(cctx, t)
		return v
	}
	// A commit that refuses the message (a limit crossed, the store
	// failing with on_error tempfail) ends the stage: the MTA refuses it,
	// so no later commit may count it as sent (a campaign's copies, a
	// complaint reference).
	return p.runUntil(cctx, t, refused, func(_ int, c Check) step {
		if cm, ok := c.(Committer); ok {
			return func() (Verdict, error) { return cm.Commit(cctx, t) }
		}
		return nil
	})
}

// refused: the MTA does not take the message (tempfail, reject).
func refused(a Action) bool { return a == Tempfail || a == Reject }

// settle runs the Settlers of a message not accepted; a failure is
// logged, the verdict stands.
func (p *Pipeline) settle(ctx context.Context, t *Transaction) {
	for _, e := range p.entries {
		if s, ok := e.Check.(Settler); ok {
			if err := s.Settle(ctx, t); err != nil {
				p.log.Error("check failed to settle a message not accepted", "check", e.Check.Name(), "err", err)
			}
		}
	}
}

// message collects the stream verdicts and runs the message checks all at
// once: YARA walks the message while clamd still scans its stream, so the
// slower of the two, not their sum, is the wait.
func (p *Pipeline) message(ctx context.Context, t *Transaction) Verdict {
	return p.runAll(ctx, t, func(i int, c Check) step {
		if i < len(t.streams) && t.streams[i].open {
			s := t.streams[i]
			if s.err != nil {
				return func() (Verdict, error) { return Verdict{}, s.err }
			}
			return func() (Verdict, error) { return s.s.Verdict(ctx) }
		}
		if m, ok := c.(MessageChecker); ok {
			return func() (Verdict, error) { return m.CheckMessage(ctx, t) }
		}
		return nil
	})
}

// run runs the checks taking part in a stage one after the other, and
// stops at a reject.
func (p *Pipeline) run(ctx context.Context, t *Transaction, pick func(int, Check) step) Verdict {
	return p.runUntil(ctx, t, func(a Action) bool { return a == Reject }, pick)
}

// runUntil is run stopping once the verdict so far is one stop picks.
func (p *Pipeline) runUntil(ctx context.Context, t *Transaction, stop func(Action) bool, pick func(int, Check) step) Verdict {
	best := Verdict{Action: Accept}
	for i, e := range p.entries {
		f := pick(i, e.Check)
		if f == nil {
			continue
		}
		r := bounded(ctx, []step{f})[0]
		best = p.fold(t, e, best, r.v, r.err, r.took)
		if stop(best.Action) || ctx.Err() != nil {
			break
		}
	}
	return best
}

// runAll is run with every check at once; the verdicts are folded in the
// pipeline's order, as run does.
func (p *Pipeline) runAll(ctx context.Context, t *Transaction, pick func(int, Check) step) Verdict {
	var steps []step
	var entries []Entry
	for i, e := range p.entries {
		if f := pick(i, e.Check); f != nil {
			steps = append(steps, f)
			entries = append(entries, e)
		}
	}
	best := Verdict{Action: Accept}
	for i, r := range bounded(ctx, steps) {
		best = p.fold(t, entries[i], best, r.v, r.err, r.took)
	}
	return best
}

// fold observes one check's outcome and returns the stronger of best and
// its verdict (its failure policy's verdict when it failed).
func (p *Pipeline) fold(t *Transaction, e Entry, best, v Verdict, err error, took time.Duration) Verdict {
	name := e.Check.Name()
	if p.obs != nil {
		p.obs.ObserveCheck(name, took, err)
	}
	if err != nil {
		v = p.failure(t, e, err)
	} else if verr := v.Validate(); verr != nil {
		// A check that builds a bad reply is a bug in the check; treat
		// it like an engine error rather than sending garbage to the MTA.
		v = p.failure(t, e, fmt.Errorf("invalid verdict: %w", verr))
	}
	v.Check = name
	t.addFindings(name, v.Findings)
	if v.Stronger(best) {
		return v
	}
	return best
}

// outcome is what a step returned and how long it took.
type outcome struct {
	v    Verdict
	err  error
	took time.Duration
}

// bounded runs the steps at once until each returns or ctx ends (the
// message deadline): a check that does not answer in time gets its failure
// policy like any other failure, and the transaction does not wait on it
// any longer; its goroutine ends when the check notices ctx. Without a
// deadline (MAIL, RCPT) a lone step runs on the caller's goroutine.
func bounded(ctx context.Context, steps []step) []outcome {
	out := make([]outcome, len(steps))
	if _, ok := ctx.Deadline(); !ok && len(steps) == 1 {
		start := time.Now()
		v, err := steps[0]()
		out[0] = outcome{v, err, time.Since(start)}
		return out
	}
	type result struct {
		i int
		outcome
	}
	done := make(chan result, len(steps))
	start := time.Now()
	for i, f := range steps {
		worker.Go(func() {
			defer func() {
				// A check that panics gets its failure policy; on this
				// goroutine it would end milterd.
				if r := recover(); r != nil {
					done <- result{i, outcome{err: fmt.Errorf("check panicked: %v", r), took: time.Since(start)}}
				}
			}()
			v, err := f()
			done <- result{i, outcome{v, err, time.Since(start)}}
		})
	}
	answered := make([]bool, len(steps))
	for range steps {
		select {
		case r := <-done:
			if dl, ok := ctx.Deadline(); r.err != nil && (ctx.Err() != nil || ok && !time.Now().Before(dl)) {
				// It failed because the deadline passed (a connection's
				// deadline is ctx's): the verdict line says so, whichever
				// of the two this goroutine saw first.
				<-ctx.Done()
				r.err = noAnswer{context.Cause(ctx), ctx.Err()}
			}
			out[r.i], answered[r.i] = r.outcome, true
		case <-ctx.Done():
			for drained := false; !drained; {
				select {
				case r := <-done: // answered after all
					if r.err != nil {
						// Failed as the deadline passed: as above.
						r.err = noAnswer{context.Cause(ctx), ctx.Err()}
					}
					out[r.i], answered[r.i] = r.outcome, true
				default:
					drained = true
				}
			}
			for i := range out {
				if !answered[i] {
					out[i] = outcome{err: noAnswer{context.Cause(ctx), ctx.Err()}, took: time.Since(start)}
				}
			}
			return out
		}
	}
	return out
}

// noAnswer is a check that did not answer before ctx ended: it reads as
// the cause (e.g. "message_timeout (5m) passed") and is also ctx's error
// (context.DeadlineExceeded), for whoever sorts errors.
type noAnswer struct{ cause, err error }

func (e noAnswer) Error() string   { return "no answer: " + e.cause.Error() }
func (e noAnswer) Unwrap() []error { return []error{e.cause, e.err} }

// failure turns an engine error into the engine's configured action. An
// accept is never silent: it is stamped on the message and logged.
func (p *Pipeline) failure(t *Transaction, e Entry, err error) Verdict {
	name := e.Check.Name()
	reason := fmt.Sprintf("%s failed: %v", name, err)
	p.log.Warn("check failed", "check", name, "err", err, "on_error", e.OnError.String(), "qid", t.QueueID)
	if e.OnError == Accept {
		t.Unchecked(name + ": not checked")
		return Verdict{Action: Accept, Reason: reason}
	}
	v := New(e.OnError, reason)
	if e.OnError == Tempfail {
		v.Text = "Temporary failure in outbound message checks, try again later"
	}
	return v
}
