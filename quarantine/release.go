package quarantine

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"outguard/policy"
)

// ReleaseLease is how long a release may take before its entry counts as
// a release that did not finish. A release gives up on the MTA well
// before: see Store.ReplyTimeout.
const ReleaseLease = 5 * time.Minute

// DefaultReplyTimeout bounds each wait of a release for the MTA (the
// connection, each reply, the reply to the final dot) when
// Store.ReplyTimeout is 0. A release address is a Postfix smtpd without
// milters on the same host or next to it: it answers within seconds.
const DefaultReplyTimeout = time.Minute

// ErrNotMarked: the MTA accepted the released message (it is on its way),
// but the entry could not be marked released. It stays "releasing", so no
// second release can deliver it again.
var ErrNotMarked = errors.New("delivered, but not marked released")

// ErrOutcomeUnknown: the whole message went to the MTA, up to the final
// dot, and no definite reply came back (the connection dropped, the reply
// was lost or came later than the reply timeout). The MTA may have queued
// it (RFC 5321 section 4.1.1.4: the reply to the dot is the only word of
// it), so the entry stays "releasing" until a reviewer, having looked
// for the release's Message-ID in the MTA's log, resolves it: putting it
// back to held could deliver it twice.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// TraceHeader is added to every released message with the entry's id, and
// a Message-ID with it when the message has none: the MTA's log (Postfix
// logs message-id= at cleanup) then tells whether a release whose outcome
// is unknown arrived.
const TraceHeader = "X-Outguard-Release"

// Release re-injects a held message over SMTP at addr (a Postfix smtpd
// without milters: the release address of the host that runs it), with
// its original envelope or to the given recipients, exactly once: it first
// takes the entry (held → releasing, one UPDATE, so of two concurrent
// releases, on one host or two, one gets it), and after the MTA's 250
// marks it released. A definite refusal (4xx, 5xx), or any failure before
// the final dot, puts it back to held; a failure after the dot with no
// definite reply leaves it releasing with its outcome unknown
// (ErrOutcomeUnknown) and the lease ended, for Resolve. It returns the
// MTA's reply.
func (s *Store) Release(ctx context.Context, id, addr, operator string, to []string) (string, error) {
	r, rec, err := s.Reader(ctx, id)
	if err != nil {
		return "", err
	}
	defer r.Close()
	body, err := s.stamped(rec, r)
	if err != nil {
		return "", err
	}
	msg, msgID := traced(id, body)
	c, raw, err := s.claim(ctx, id, operator, msgID, to)
	if err != nil {
		return "", err
	}
	if len(to) == 0 {
		to = rec.Rcpts
	}
	timeout := s.ReplyTimeout
	if timeout <= 0 {
		timeout = DefaultReplyTimeout
	}
	reply, err := Inject(ctx, addr, rec.From, to, msg, timeout)
	// What follows is written whatever happened to ctx: the entry must not
	// stay claimed by a release that is over.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		ended := c
		ended.Lease, ended.Outcome = time.Now(), "unknown: "+err.Error()
		if perr := s.swapClaim(wctx, id, raw, Releasing, &ended); perr != nil {
			err = errors.Join(err, fmt.Errorf("recording the outcome: %w", perr))
		}
		return reply, err
	case err != nil:
		if perr := s.swapClaim(wctx, id, raw, Held, nil); perr != nil {
			err = errors.Join(err, fmt.Errorf("putting it back to held: %w", perr))
		}
		return reply, err
	}
	if err := s.swapClaim(wctx, id, raw, Released, &c); err != nil {
		return reply, fmt.Errorf("%w: %v", ErrNotMarked, err)
	}
	return reply, nil
}

// traced returns msg with the trace header (and a Message-ID when it has
// none) in front, and the Message-ID the release carries.
func traced(id string, msg io.Reader) (io.Reader, string) {
	br := bufio.NewReaderSize(msg, 64<<10)
	head, _ := br.Peek(64 << 10) // a header block longer than this has no Message-ID we look for
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i+2]
	}
	add := TraceHeader + ": " + id + "\r\n"
	msgID := messageID(head)
	if msgID == "" {
		msgID = "<" + id + ".release@outguard.invalid>"
		add += "Message-ID: " + msgID + "\r\n"
	}
	return io.MultiReader(strings.NewReader(add), br), msgID
}

// messageID is the Message-ID in a header block, unfolded; "" if none.
func messageID(head []byte) string {
	lines := strings.Split(string(head), "\r\n")
	for i, l := range lines {
		name, v, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "Message-ID") {
			continue
		}
		for _, cont := range lines[i+1:] {
			if cont == "" || cont[0] != ' ' && cont[0] != '\t' {
				break
			}
			v += cont
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// claim takes a held entry for a release, to the recipients to (none: the
// original ones; the claim stays on the record as where it went), and
// returns the claim written and its column's text.
func (s *Store) claim(ctx context.Context, id, operator, msgID string, to []string) (Claim, sql.NullString, error) {
	now := time.Now()
	c := Claim{Operator: operator, Host: s.Host, Started: now, Lease: now.Add(ReleaseLease), MessageID: msgID, To: to}
	js, _ := json.Marshal(c)
	raw := sql.NullString{String: string(js), Valid: true}
	r, err := s.exec(ctx, s.db, `UPDATE entries SET state = $1, claim = $2 WHERE id = $3 AND state = $4`, Releasing, raw, id, Held)
	if err != nil {
		return c, raw, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return c, raw, nil
	}
	rec, err := s.Get(ctx, id)
	if err != nil {
		return c, raw, err
	}
	if rec.State == Releasing && rec.Release != nil {
		return c, raw, rec.Release.busy(id, now)
	}
	return c, raw, fmt.Errorf("%s is %s, not held", id, rec.State)
}

// busy is why an entry with claim c cannot be taken at now.
func (c *Claim) busy(id string, now time.Time) error {
	by := c.Operator
	if c.Host != "" {
		by += " on " + c.Host
	}
	started := c.Started.Local().Format(time.DateTime)
	switch {
	case c.Outcome != "":
		return fmt.Errorf("%s: the release by %s at %s has an unknown outcome (%s): %s", id, by, started, c.Outcome, c.Unknown(id))
	case now.Before(c.Lease):
		return fmt.Errorf("%s is being released by %s since %s", id, by, started)
	}
	return fmt.Errorf("%s: a release by %s at %s did not finish; see whether the MTA took it (its log, by Message-ID %s), then `milterctl quarantine resolve %s released|held`",
		id, by, started, c.MessageID, id)
}

// Unknown tells the reviewer what to do about a release of entry id whose
// outcome is unknown.
func (c *Claim) Unknown(id string) string {
	mid := c.MessageID
	if mid == "" {
		mid = "-"
	}
	return fmt.Sprintf("check the MTA's log for Message-ID %s (header %s: %s), then `milterctl quarantine resolve %s released|held`", mid, TraceHeader, id, id)
}

// Resolve ends a release that did not finish, as the reviewer found: the
// message was delivered (Released) or not (Held, to be released again).
// A release still within its lease may be running: Resolve refuses it
// unless force names the lease's holder (the operator who released).
func (s *Store) Resolve(ctx context.Context, id, state, force string) error {
	if state != Released && state != Held {
		return fmt.Errorf("resolve to released or held, not %q", state)
	}
	var cur string
	var raw sql.NullString
	err := s.db.QueryRowContext(ctx, s.d.Rebind(`SELECT state, claim FROM entries WHERE id = $1`), id).Scan(&cur, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", id, ErrNotFound)
	} else if err != nil {
		return err
	}
	if cur != Releasing {
		return fmt.Errorf("%s is %s, not releasing", id, cur)
	}
	var c Claim
	if raw.Valid {
		if err := json.Unmarshal([]byte(raw.String), &c); err != nil {
			return fmt.Errorf("%s: its claim: %w", id, err)
		}
	}
	if now := time.Now(); now.Before(c.Lease) && force != c.Operator {
		return fmt.Errorf("%w; `--force %s` resolves it anyway, once that release is known to be over", c.busy(id, now), c.Operator)
	}
	var next *Claim
	if state == Released && raw.Valid {
		next = &c
	}
	return s.swapClaim(ctx, id, raw, state, next)
}

// swapClaim moves id from releasing with the claim column cur to state to
// with claim next (none when nil), atomically: it fails when id is no
// longer releasing under cur (another reviewer resolved or took it).
func (s *Store) swapClaim(ctx context.Context, id string, cur sql.NullString, to string, next *Claim) error {
	var claim sql.NullString
	if next != nil {
		js, _ := json.Marshal(next)
		claim = sql.NullString{String: string(js), Valid: true}
	}
	// COALESCE: a claim may be NULL (an entry released before claims).
	r, err := s.exec(ctx, s.db, `UPDATE entries SET state = $1, claim = $2 WHERE id = $3 AND state = $4 AND COALESCE(claim, '') = $5`, to, claim, id, Releasing, cur.String)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return fmt.Errorf("%s is no longer releasing under this claim", id)
	}
	return nil
}

// Inject submits a message over SMTP at addr (the release address) and
// returns the MTA's reply: the release path, also for the digest. timeout
// bounds the connection and each wait for a reply. An error after the
// whole message and its final dot were sent, other than a 4xx or 5xx
// reply, is ErrOutcomeUnknown: the MTA may have queued it.
func Inject(ctx context.Context, addr, from string, to []string, msg io.Reader, timeout time.Duration) (string, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	defer c.Close()
	if err := c.Hello("outguard-release"); err != nil {
		return reply(err), err
	}
	if err := c.Mail(from, nil); err != nil {
		return reply(err), err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return reply(err), fmt.Errorf("RCPT TO:<%s>: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return reply(err), err
	}
	if _, err := io.Copy(w, msg); err != nil {
		// The message could not be read (or is corrupt), or the connection
		// broke: the data is cut off before its end, so the MTA takes
		// nothing.
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 400 && se.Code < 600 {
			return reply(err), err
		}
		return reply(err), fmt.Errorf("%w: no definite reply after the final dot: %v", ErrOutcomeUnknown, err)
	}
	c.Quit()
	return "250 " + resp.StatusText, nil
}

func reply(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
	}
	return err.Error()
}

// AuditEntry is one line of the audit trail: a release, resolve, delete,
// purge or migration, by whom, from which host, and how it ended.
type AuditEntry struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Operator string    `json:"operator"`
	Action   string    `json:"action"`
	ID       string    `json:"id"`
	Outcome  string    `json:"outcome"`
}

// Audit records what operator did, in the store (shared by a fleet on
// PostgreSQL), as this host.
func (s *Store) Audit(ctx context.Context, operator, action, id, outcome string) error {
	_, err := s.exec(ctx, s.db, `INSERT INTO audit (t, host, operator, action, id, outcome) VALUES ($1, $2, $3, $4, $5, $6)`,
		time.Now().UnixMilli(), s.Host, operator, action, id, outcome)
	return err
}

// AuditLog returns the audit trail since a time (of one entry, unless
// id is ""), oldest first.
func (s *Store) AuditLog(ctx context.Context, since time.Time, id string) ([]AuditEntry, error) {
	q, args := `SELECT t, host, operator, action, id, outcome FROM audit WHERE t >= $1`, []any{since.UnixMilli()}
	if id != "" {
		q, args = q+` AND id = $2`, append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, s.d.Rebind(q+` ORDER BY t`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var ms int64
		if err := rows.Scan(&ms, &a.Host, &a.Operator, &a.Action, &a.ID, &a.Outcome); err != nil {
			return nil, err
		}
		a.Time = time.UnixMilli(ms)
		out = append(out, a)
	}
	return out, rows.Err()
}

// FromTransaction builds the record of a transaction held by verdict v.
func FromTransaction(t *policy.Transaction, v policy.Verdict, client string) Record {
	return Record{
		Time:     time.Now(),
		QueueID:  t.QueueID,
		User:     t.User,
		Client:   client,
		From:     t.From,
		Rcpts:    append([]string(nil), t.Rcpts...),
		Reason:   v.Reason,
		Findings: findings(t, v),
	}
}

// findings are every engine's findings; a check that gave its verdict
// without any (the limits' suspension, a test check) is one by its reason.
func findings(t *policy.Transaction, v policy.Verdict) []Finding {
	fs := t.Findings()
	for _, f := range fs {
		if f.Engine == v.Check {
			return fs
		}
	}
	return append(fs, Finding{Engine: v.Check, Action: v.Action.String(), Detail: v.Reason})
}
