package limits

import (
	"regexp"
	"strings"
	"time"
)

// LogLine is what the follower needs from one Postfix or Sendmail log line.
type LogLine struct {
	Time    time.Time
	QueueID string
	PID     string // the logging process: Sendmail's session
	// Kind: "bounced" (recipients refused for good after queueing),
	// "expired" (the message left the queue undelivered: no recipient),
	// "sent" (recipients delivered), "sasl" (Postfix smtpd's login for a
	// queue id), "auth" (Sendmail's login for its session, by PID),
	// "refused" (Sendmail refused a recipient at RCPT), "data" (Sendmail:
	// the receiver refused the message at DATA; its to= line follows) or
	// "end" (Sendmail: the session PID has no login any more).
	Kind string
	// Rcpts as the sender gave them: Postfix's orig_to= when the smarthost
	// rewrote the address (virtual, canonical), else to=; Sendmail names
	// every recipient of one delivery attempt in one to= line.
	Rcpts []string
	DSN   string // enhanced status, e.g. 5.1.1
	Text  string // the reason
	User  string // sasl and auth
	Relay string // Sendmail: the client of the session (auth, refused)
}

// Postfix and Sendmail lines as written by syslog or Postfix's
// maillog_file, with a classic ("Nov 28 01:06:41") or RFC 3339 timestamp:
//
//	TIME HOST postfix/smtp[PID]: QID: to=<a@b>, relay=…, dsn=5.1.1, status=bounced (…)
//	TIME HOST postfix/smtp[PID]: QID: to=<a@b>, relay=…, dsn=2.0.0, status=sent (…)
//	TIME HOST postfix/qmgr[PID]: QID: from=<s@c>, status=expired, returned to sender
//	TIME HOST postfix/smtpd[PID]: QID: client=…, sasl_method=PLAIN, sasl_username=alice
//	TIME HOST sendmail[PID]: QID: to=<a@b>, delay=…, mailer=esmtp, …, dsn=5.1.1, stat=User unknown
//	TIME HOST sendmail[PID]: QID: to=<a@b>, delay=…, mailer=esmtp, …, dsn=2.0.0, stat=Sent (…)
//	TIME HOST sendmail[PID]: AUTH=server, relay=…, authid=alice, mech=PLAIN, bits=0
//	TIME HOST sendmail[PID]: QID: ruleset=check_rcpt, arg1=<a@b>, relay=…, reject=550 5.1.1 <a@b>... text
//	TIME HOST sendmail[PID]: QID: to=<a@b>,<c@d>, …, dsn=5.3.0, reply=500 5.3.0 text, stat=Remote protocol error
//	TIME HOST sendmail[PID]: QID: [127.0.0.1]: SMTP DATA-2 protocol error: 500 5.3.0 text
//	TIME HOST sendmail[PID]: QID: from=<s@c>, …, proto=ESMTP, daemon=MTA, relay=…
//	TIME HOST sendmail[PID]: QID: client did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA
//	TIME HOST sendmail[PID]: QID: DSNQID: DSN: Cannot send message for 5 days
var lineRE = regexp.MustCompile(`^(\S+(?: +\d+ \d\d:\d\d:\d\d)?) \S+ [\w./-]+\[(\d+)\]: (?:([0-9A-Za-z]{5,}): )?(.*)$`)

// ParseLogLine parses one line; ok is false for lines that say nothing the
// follower counts.
func ParseLogLine(line string, now time.Time) (LogLine, bool) {
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		return LogLine{}, false
	}
	l := LogLine{PID: m[2], QueueID: m[3]}
	rest := m[4]
	switch {
	case strings.HasPrefix(rest, "AUTH=server, "):
		// Sendmail logs the login with no queue id: it precedes MAIL.
		user, ok := field(rest, "authid=")
		if !ok {
			return LogLine{}, false
		}
		l.Kind, l.User, l.Relay, l.QueueID = "auth", user, relay(rest), ""
	case strings.Contains(rest, " did not issue MAIL/EXPN/VRFY/ETRN during connection"), strings.HasPrefix(rest, "lost input channel"):
		l.Kind = "end" // Sendmail: the session is over
	case l.QueueID == "":
		return LogLine{}, false
	case strings.HasPrefix(rest, "client="):
		user, ok := field(rest, "sasl_username=")
		if !ok {
			return LogLine{}, false
		}
		l.Kind, l.User = "sasl", user
	case strings.HasPrefix(rest, "ruleset=check_rcpt, "):
		arg, _ := field(rest, "arg1=")
		_, reply, ok := strings.Cut(rest, ", reject=")
		if !ok || !strings.HasPrefix(reply, "5") {
			return LogLine{}, false // a temporary refusal is no evidence
		}
		code := strings.Fields(reply)
		l.Kind, l.Rcpts, l.Text, l.Relay = "refused", []string{strings.Trim(arg, "<>")}, reply, relay(rest)
		if len(code) > 1 && strings.Count(code[1], ".") == 2 {
			l.DSN = code[1]
		}
	case strings.Contains(rest, ": SMTP DATA-1 protocol error: 5"), strings.Contains(rest, ": SMTP DATA-2 protocol error: 5"):
		l.Kind = "data"
	case strings.HasPrefix(rest, "from=") && strings.Contains(rest, ", proto="):
		// A message of the session: without "A" (ESMTPA, ESMTPSA) its
		// client did not authenticate, and no earlier login of this PID
		// holds for what it does next.
		if proto := fieldOr(rest, "proto="); strings.HasSuffix(proto, "A") {
			return LogLine{}, false
		}
		l.Kind = "end"
	case strings.Contains(rest, ": DSN: Cannot send message for "):
		// Sendmail returns a message that timed out in its queue
		// (Timeout.queuereturn): "QID: DSNQID: DSN: Cannot send message
		// for 5 days", naming no recipient, like qmgr's expiry.
		l.Kind, l.DSN, l.Text = "expired", "4.4.7", "still undeliverable when the message expired in the queue"
	case strings.Contains(rest, ", stat="):
		// Sendmail: 2.x.x delivered, 5.x.x refused for good.
		dsn, _ := field(rest, "dsn=")
		_, l.Text, _ = strings.Cut(rest, ", stat=")
		if _, reply, ok := strings.Cut(rest, ", reply="); ok {
			reply, _, _ = strings.Cut(reply, ", stat=")
			l.Text = reply + " (" + l.Text + ")"
		}
		switch {
		case strings.HasPrefix(dsn, "5"):
			l.Kind = "bounced"
		case strings.HasPrefix(dsn, "2"):
			l.Kind = "sent"
		default:
			return LogLine{}, false
		}
		l.Rcpts, l.DSN = sendmailRcpts(rest), dsn
		if len(l.Rcpts) == 0 {
			return LogLine{}, false
		}
	default:
		status, ok := field(rest, "status=")
		if !ok {
			return LogLine{}, false
		}
		// orig_to: the address before the smarthost rewrote it, as the
		// message's record has it.
		rcpt := fieldOr(rest, "orig_to=")
		if rcpt == "" {
			rcpt = fieldOr(rest, "to=")
		}
		rcpt = strings.Trim(rcpt, "<>")
		switch status {
		case "sent":
			l.Kind = "sent"
		case "bounced":
			l.Kind = "bounced"
			l.DSN, _ = field(rest, "dsn=")
			if i := strings.Index(rest, "status=bounced ("); i >= 0 {
				l.Text = strings.TrimSuffix(rest[i+len("status=bounced ("):], ")")
			}
		case "expired":
			// qmgr, once per message: every recipient not yet delivered.
			l.Kind, l.DSN, l.Text = "expired", "4.4.7", "still undeliverable when the message expired in the queue"
		default:
			return LogLine{}, false
		}
		if l.Kind != "expired" {
			if rcpt == "" {
				return LogLine{}, false
			}
			l.Rcpts = []string{rcpt}
		}
	}
	l.Time = parseTime(m[1], now)
	return l, true
}

// sendmailRcpts reads Sendmail's to=, which names every recipient of one
// delivery attempt: "to=<a@b>,<c@d>, delay=…".
func sendmailRcpts(rest string) []string {
	i := strings.Index(rest, "to=")
	if i < 0 || i > 0 && rest[i-1] != ' ' {
		return nil
	}
	v := rest[i+3:]
	if j := strings.Index(v, ", "); j >= 0 {
		v = v[:j]
	}
	var out []string
	for _, r := range strings.Split(v, ",") {
		if r = strings.Trim(r, "<>"); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// relay is Sendmail's "relay=host [address]", up to the next ", ".
func relay(s string) string {
	i := strings.Index(s, ", relay=")
	if i < 0 {
		return ""
	}
	v, _, _ := strings.Cut(s[i+len(", relay="):], ", ")
	return v
}

func fieldOr(s, name string) string { v, _ := field(s, name); return v }

// field returns the value of "name=value" up to the next ", " (or the end,
// or " (" for status).
func field(s, name string) (string, bool) {
	i := strings.Index(s, name)
	if i < 0 || i > 0 && s[i-1] != ' ' {
		return "", false
	}
	v := s[i+len(name):]
	if j := strings.IndexAny(v, ", "); j >= 0 {
		v = v[:j]
	}
	return v, v != ""
}

// parseTime reads a syslog timestamp. Classic ones have no year: the one
// that puts the time closest before now is taken.
func parseTime(s string, now time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	t, err := time.ParseInLocation("Jan _2 15:04:05", strings.Join(strings.Fields(s), " "), time.Local)
	if err != nil {
		return now
	}
	t = t.AddDate(now.Year(), 0, 0)
	if t.After(now.Add(24 * time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t
}
