package limits

import (
	"strings"
)

// Scope is what a permanent refusal says about a message: that one
// recipient's address is bad (counted once per recipient against
// undeliverable_per_hour), or that the receiver refused the message as a
// whole (counted once per message against refused_messages_per_hour).
type Scope int

const (
	NotCounted Scope = iota // temporary: no evidence of anything
	RecipientScope
	MessageScope
)

func (s Scope) String() string {
	switch s {
	case RecipientScope:
		return "recipient"
	case MessageScope:
		return "message"
	}
	return "not counted"
}

// SignalRefused is the Suspension.Signal of refused messages.
const SignalRefused = "refused"

// Kind of a counted event (Undeliverable.Kind) of each scope.
const (
	KindRecipient = ""        // an undeliverable recipient
	KindMessage   = "message" // a message refused as a whole
)

// refusalRule is one row of the classification: a reply given at stage (""
// any) with an enhanced status starting with status ("" any).
type refusalRule struct {
	stage  string // "session" (greeting to STARTTLS), "mail", "rcpt", "data" (DATA or end of DATA), "" any
	status string // prefix of the enhanced status (RFC 3463)
	scope  Scope
	why    string
}

// refusalRules is the classification, first match wins; docs/suspension.md
// shows it to the abuse desk. A stage is known from Postfix's "(in reply to
// ... command)" and from Sendmail's own RCPT refusals; a reply of unknown
// stage is judged by its status alone. A message sent to 12 recipients
// and refused at end of DATA is one refused message, not 12 undeliverable
// recipients: those receivers judged the message, not the addresses.
var refusalRules = []refusalRule{
	{"", "4", NotCounted, "temporary: deferred and retried, no evidence"},
	{"session", "", MessageScope, "refused at the greeting, EHLO/HELO or STARTTLS: the receiver refused the sending host, never a recipient"},
	{"mail", "", MessageScope, "refused at MAIL FROM: the sender or the message, never a recipient"},
	{"data", "", MessageScope, "refused at DATA or end of DATA: the receiver judged the message (content, spam, DMARC, size)"},
	{"", "5.7.", MessageScope, "security or policy (5.7.1 spam/content, 5.7.26 DMARC, 5.7.23 SPF, blocklists) at RCPT or unknown stage"},
	{"", "5.3.", MessageScope, "mail system (5.3.4 message too big)"},
	{"", "5.6.", MessageScope, "content or media (5.6.0)"},
	{"", "5.2.3", MessageScope, "message length exceeds administrative limit"},
	{"", "5.1.", RecipientScope, "address status (5.1.1 no such user, 5.1.2 bad domain, 5.1.10 null MX)"},
	{"", "5.2.", RecipientScope, "mailbox status (5.2.1 disabled, 5.2.2 full)"},
	{"", "5.4.", RecipientScope, "routing (5.4.4 domain not found, 5.4.6 loop)"},
	{"", "5.", RecipientScope, "any other permanent refusal of a recipient (5.0.0, 5.5.x)"},
}

// Classify returns the scope of a refusal with enhanced status dsn (a
// missing one is taken as 5.0.0 from a 5xx reply, 4.0.0 from a 4xx) and
// the reply text, which names the stage for Postfix and Sendmail.
func Classify(dsn, text string) Scope {
	if dsn == "" {
		dsn = "5.0.0"
		if strings.HasPrefix(strings.TrimSpace(text), "4") {
			dsn = "4.0.0"
		}
	}
	stage := replyStage(text)
	for _, r := range refusalRules {
		if (r.stage == "" || r.stage == stage) && strings.HasPrefix(dsn, r.status) {
			return r.scope
		}
	}
	return NotCounted
}

// replyStage reads the SMTP command a reply answered from Postfix's
// "(in reply to end of DATA command)" and Sendmail's wording ("... while
// talking to" is not logged; Sendmail logs a DATA refusal as
// "reply=... DATA" or names the command in its "stat=" text). "session":
// before MAIL (greeting, EHLO, STARTTLS). "" unknown.
func replyStage(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "in reply to end of data command"), strings.Contains(t, "in reply to data command"),
		strings.Contains(t, ">>> data"), strings.Contains(t, ">>> ."):
		return "data"
	case strings.Contains(t, " refused to talk to me: "), strings.Contains(t, "in reply to ehlo command"),
		strings.Contains(t, "in reply to helo command"), strings.Contains(t, "in reply to lhlo command"),
		strings.Contains(t, "in reply to starttls command"):
		// Postfix names no recipient's command: the receiver refused this
		// host before any (its greeting, RFC 5321 4.3.2), yet logs one
		// bounced line per recipient.
		return "session"
	case strings.Contains(t, "in reply to mail from command"), strings.Contains(t, ">>> mail from"):
		return "mail"
	case strings.Contains(t, "in reply to rcpt to command"), strings.Contains(t, ">>> rcpt to"):
		return "rcpt"
	}
	return ""
}
