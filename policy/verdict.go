// Package policy holds the verdict logic of outguard: what a transaction is,
// what a verdict is, and how the verdicts of several checks combine. It does
// no I/O of its own; the checks it runs do.
package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Action is what the MTA is told to do with a message. The order is the
// strength: when several checks disagree, the strongest verdict wins.
type Action uint8

const (
	Accept Action = iota
	// Tempfail: 4xx, the client keeps the message and retries.
	Tempfail
	// Quarantine: accepted towards the client, held by us, delivered to nobody.
	Quarantine
	// Discard: accepted towards the client and dropped silently.
	Discard
	// Reject: 5xx, the client (our own customer) learns at once.
	Reject
)

var actionNames = [...]string{"accept", "tempfail", "quarantine", "discard", "reject"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// ParseAction parses an action name as written in the config.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if s == n {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown action %q (want one of %s)", s, strings.Join(actionNames[:], ", "))
}

// Verdict is the outcome of a check. Code, Status and Text are what the SMTP
// client sees; Reason is the internal explanation, written only to the log.
type Verdict struct {
	Action Action
	Code   int    // SMTP reply code, e.g. 550; 0 takes the action's default
	Status string // RFC 3463 enhanced status, e.g. "5.7.1"
	Text   string // generic, client-facing
	Reason string // internal, for the audit line
	Check  string // name of the check that gave it
	// Findings are what the check found, in detail, for the quarantine
	// record: every engine's, not only the winning verdict's.
	Findings []Finding
}

// ErrQuarantineFull is what a quarantine at its quota answers to a hold,
// so that the hold gets quarantine.on_full rather than an engine failure.
var ErrQuarantineFull = errors.New("quarantine full")

// Finding is one thing an engine found in a message: a signature, a rule
// match, with where in the message and by which version of the engine.
type Finding struct {
	Engine      string `json:"engine"`                 // the check, e.g. clamd
	Name        string `json:"name,omitempty"`         // signature or namespace:rule
	Action      string `json:"action,omitempty"`       // what the engine asked for
	Description string `json:"description,omitempty"`  // the rule's meta description
	Part        string `json:"part,omitempty"`         // MIME part path, "1.2"
	Filename    string `json:"filename,omitempty"`     // declared or member name
	ArchivePath string `json:"archive_path,omitempty"` // inside the part's archives
	Version     string `json:"version,omitempty"`      // engine or rules version
	Detail      string `json:"detail,omitempty"`       // the engine's own words
}

// Defaults per action: RFC 3463 4.7.1/5.7.1 "delivery not authorized".
var defaults = map[Action]Verdict{
	Tempfail: {Code: 451, Status: "4.7.1", Text: "Message temporarily deferred by outbound policy, try again later"},
	Reject:   {Code: 550, Status: "5.7.1", Text: "Message rejected by outbound policy"},
}

// New returns a verdict with the action's default code, status and text.
func New(a Action, reason string) Verdict {
	v := defaults[a]
	v.Action = a
	v.Reason = reason
	return v
}

// WithText returns v with a client-facing text instead of the default one.
func (v Verdict) WithText(text string) Verdict {
	v.Text = text
	return v
}

// Validate checks that the reply fits the action: 4xx only with tempfail,
// 5xx only with reject, and the enhanced status of the same class (RFC 3463 2).
func (v Verdict) Validate() error {
	switch v.Action {
	case Tempfail, Reject:
		class := 4
		if v.Action == Reject {
			class = 5
		}
		if v.Code/100 != class {
			return fmt.Errorf("%s verdict needs a %dxx code, got %d", v.Action, class, v.Code)
		}
		if !validStatus(v.Status, class) {
			return fmt.Errorf("%s verdict needs an enhanced status %d.x.x, got %q", v.Action, class, v.Status)
		}
		if strings.ContainsAny(v.Text, "\r\n\x00") {
			return fmt.Errorf("reply text must be one line")
		}
	case Accept, Quarantine, Discard:
		if v.Code != 0 || v.Status != "" {
			return fmt.Errorf("%s verdict carries no SMTP reply", v.Action)
		}
	default:
		return fmt.Errorf("unknown action %d", v.Action)
	}
	return nil
}

// validStatus reports whether s is class.subject.detail (RFC 3463 2).
func validStatus(s string, class int) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != fmt.Sprint(class) {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Reply is the SMTP reply text for the client, with a reference the
// postmaster can grep for when the customer calls.
func (v Verdict) Reply(queueID string) string {
	text := v.Text
	if queueID != "" {
		text += " (ref " + queueID + ")"
	}
	return v.Status + " " + text
}

// Stronger reports whether v should win over w.
func (v Verdict) Stronger(w Verdict) bool { return v.Action > w.Action }

// Summary is the finding on one line, for people: engine, name and action,
// where in the message, the rule's description, the engine's version. It
// is raw text: whoever shows it escapes it for the terminal or the page.
func (f Finding) Summary() string {
	s := f.Engine + ":"
	for _, part := range []string{f.Name, f.Action} {
		if part != "" {
			s += " " + part
		}
	}
	if f.Part != "" {
		s += " in part " + f.Part
		if f.ArchivePath != "" {
			s += " " + f.ArchivePath
		} else if f.Filename != "" {
			s += " (" + f.Filename + ")"
		}
	}
	if f.Description != "" {
		s += ": " + f.Description
	}
	if f.Version != "" {
		s += " [" + f.Version + "]"
	}
	if f.Detail != "" && f.Name == "" {
		s += " " + f.Detail
	}
	return s
}
