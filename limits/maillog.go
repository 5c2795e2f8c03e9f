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
	// Kind: "bounced" (a recipient refused for good after queueing),
	// "expired" (the message left the queue undelivered: no recipient),
	// "sent" (a recipient delivered), "sasl" (Postfix smtpd's login for a
	// queue id), "auth" (Sendmail's login for its session, by PID) or
	// "refused" (Sendmail refused a recipient at RCPT).
	Kind string
	Rcpt string
	DSN  string // enhanced status, e.g. 5.1.1
	Text string // the reason
	User string // sasl and auth
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
	to := func() string { v, _ := field(rest, "to="); return strings.Trim(v, "<>") }
	switch {
	case l.QueueID == "":
		// Sendmail logs the login with no queue id: it precedes MAIL.
		user, ok := field(rest, "authid=")
		if !ok || !strings.HasPrefix(rest, "AUTH=server, ") {
			return LogLine{}, false
		}
		l.Kind, l.User = "auth", user
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
		l.Kind, l.Rcpt, l.Text = "refused", strings.Trim(arg, "<>"), reply
		if len(code) > 1 && strings.Count(code[1], ".") == 2 {
			l.DSN = code[1]
		}
	case strings.Contains(rest, ", stat="):
		// Sendmail: 2.x.x delivered, 5.x.x refused for good.
		dsn, _ := field(rest, "dsn=")
		_, l.Text, _ = strings.Cut(rest, ", stat=")
		switch {
		case strings.HasPrefix(dsn, "5"):
			l.Kind = "bounced"
		case strings.HasPrefix(dsn, "2"):
			l.Kind = "sent"
		default:
			return LogLine{}, false
		}
		l.Rcpt, l.DSN = to(), dsn
	default:
		status, ok := field(rest, "status=")
		if !ok {
			return LogLine{}, false
		}
		switch status {
		case "sent":
			l.Kind, l.Rcpt = "sent", to()
		case "bounced":
			l.Kind, l.Rcpt = "bounced", to()
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
		if l.Kind != "expired" && l.Rcpt == "" {
			return LogLine{}, false
		}
	}
	l.Time = parseTime(m[1], now)
	return l, true
}

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
