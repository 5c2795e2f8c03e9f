package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"outguard/policy"
)

// ReleaseLease is how long a release may take before its entry counts as
// a release that did not finish.
const ReleaseLease = 5 * time.Minute

// ErrNotMarked: the MTA accepted the released message (it is on its way),
// but the entry could not be marked released. It stays "releasing", so no
// second release can deliver it again.
var ErrNotMarked = errors.New("delivered, but not marked released")

// Release re-injects a held message over SMTP at addr (a Postfix smtpd
// without milters: the release address of the host that runs it), with
// its original envelope or to the given recipients, exactly once: it first
// takes the entry (held → releasing, one UPDATE, so of two concurrent
// releases, on one host or two, one gets it), and after the MTA's 250
// marks it released. A refusal by the MTA puts it back to held. It returns
// the MTA's reply.
func (s *Store) Release(ctx context.Context, id, addr, operator string, to []string) (string, error) {
	r, rec, err := s.Reader(ctx, id)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if err := s.claim(ctx, id, operator, to); err != nil {
		return "", err
	}
	if len(to) == 0 {
		to = rec.Rcpts
	}
	reply, err := Inject(ctx, addr, rec.From, to, r)
	if err != nil {
		if perr := s.setState(ctx, id, Releasing, Held); perr != nil {
			err = errors.Join(err, fmt.Errorf("putting it back to held: %w", perr))
		}
		return reply, err
	}
	if err := s.setState(ctx, id, Releasing, Released); err != nil {
		return reply, fmt.Errorf("%w: %v", ErrNotMarked, err)
	}
	return reply, nil
}

// claim takes a held entry for a release, to the recipients to (none: the
// original ones); the claim stays on the record as where it went.
func (s *Store) claim(ctx context.Context, id, operator string, to []string) error {
	now := time.Now()
	c, _ := json.Marshal(Claim{Operator: operator, Host: s.Host, Started: now, Lease: now.Add(ReleaseLease), To: to})
	r, err := s.exec(ctx, s.db, `UPDATE entries SET state = $1, claim = $2 WHERE id = $3 AND state = $4`, Releasing, string(c), id, Held)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return nil
	}
	rec, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if rec.State == Releasing && rec.Release != nil {
		by := rec.Release.Operator
		if rec.Release.Host != "" {
			by += " on " + rec.Release.Host
		}
		if now.Before(rec.Release.Lease) {
			return fmt.Errorf("%s is being released by %s since %s", id, by, rec.Release.Started.Local().Format(time.DateTime))
		}
		return fmt.Errorf("%s: a release by %s at %s did not finish; see whether the MTA took it (its log, by the message's queue id), then `milterctl quarantine resolve %s released|held`",
			id, by, rec.Release.Started.Local().Format(time.DateTime), id)
	}
	return fmt.Errorf("%s is %s, not held", id, rec.State)
}

// Resolve ends a release that did not finish, as the reviewer found: the
// message was delivered (Released) or not (Held, to be released again).
func (s *Store) Resolve(ctx context.Context, id, state string) error {
	if state != Released && state != Held {
		return fmt.Errorf("resolve to released or held, not %q", state)
	}
	return s.setState(ctx, id, Releasing, state)
}

// setState moves id from state from to state to, atomically; it fails
// when id is not in from.
func (s *Store) setState(ctx context.Context, id, from, to string) error {
	r, err := s.exec(ctx, s.db, `UPDATE entries SET state = $1 WHERE id = $2 AND state = $3`, to, id, from)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return fmt.Errorf("%s is not %s", id, from)
	}
	return nil
}

// Inject submits a message over SMTP at addr (the release address) and
// returns the MTA's reply: the release path, also for the digest.
func Inject(ctx context.Context, addr, from string, to []string, msg io.Reader) (string, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	c := smtp.NewClient(conn)
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
		// The message could not be read (or is corrupt): the data is cut
		// off before its end, so the MTA takes nothing.
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return reply(err), err
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
