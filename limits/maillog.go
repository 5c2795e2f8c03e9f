package limits

import (
	"regexp"
	"strings"
	"time"
)

// LogLine is what the follower needs from one Postfix log line.
type LogLine struct {
	Time    time.Time
	QueueID string
	Kind    string // "bounced", "expired" (undeliverable) or "sasl" (smtpd login)
	Rcpt    string // bounced/expired with to=<>
	DSN     string // enhanced status, e.g. 5.1.1
	Text    string // the reason in parentheses
	User    string // sasl_username
}

// Postfix and Sendmail lines as written by syslog or Postfix's
// maillog_file, with a classic ("Nov 28 01:06:41") or RFC 3339 timestamp:
//
//	TIME HOST postfix/smtp[PID]: QID: to=<a@b>, relay=…, dsn=5.1.1, status=bounced (…)
//	TIME HOST postfix/smtpd[PID]: QID: client=…, sasl_method=PLAIN, sasl_username=alice
//	TIME HOST sendmail[PID]: QID: to=<a@b>, delay=…, mailer=esmtp, …, dsn=5.1.1, stat=User unknown
var lineRE = regexp.MustCompile(`^(\S+(?: +\d+ \d\d:\d\d:\d\d)?) \S+ [\w./-]+\[\d+\]: ([0-9A-Za-z]{5,}): (.*)$`)

// ParseLogLine parses one line; ok is false for lines that say nothing the
// follower counts.
func ParseLogLine(line string, now time.Time) (LogLine, bool) {
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		return LogLine{}, false
	}
	l := LogLine{QueueID: m[2]}
	rest := m[3]
	if user, ok := field(rest, "sasl_username="); ok && strings.HasPrefix(rest, "client=") {
		l.Kind, l.User = "sasl", user
	} else if dsn, ok := field(rest, "dsn="); ok && strings.HasPrefix(dsn, "5") && strings.Contains(rest, ", stat=") {
		// Sendmail: a permanent failure is a 5.x.x dsn, the reason after stat=.
		l.Kind, l.DSN = "bounced", dsn
		l.Rcpt, _ = field(rest, "to=")
		l.Rcpt = strings.Trim(l.Rcpt, "<>")
		_, l.Text, _ = strings.Cut(rest, ", stat=")
	} else if status, ok := field(rest, "status="); ok && (status == "bounced" || status == "expired") {
		l.Kind = status
		l.Rcpt, _ = field(rest, "to=")
		l.Rcpt = strings.Trim(l.Rcpt, "<>")
		l.DSN, _ = field(rest, "dsn=")
		if i := strings.Index(rest, "status="+status+" ("); i >= 0 {
			l.Text = strings.TrimSuffix(rest[i+len("status="+status+" ("):], ")")
		} else if i := strings.Index(rest, "status="+status+", "); i >= 0 {
			l.Text = rest[i+len("status="+status+", "):]
		}
	} else {
		return LogLine{}, false
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
