package quarantine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/emersion/go-smtp"

	"outguard/policy"
)

// Release re-injects a held message over SMTP at addr (a Postfix smtpd
// without milters), with its original envelope or to the given recipients.
// It returns the MTA's reply; the entry is marked released only when the
// MTA accepted the message for every recipient.
func (s *Store) Release(ctx context.Context, id, addr string, to []string) (string, error) {
	data, rec, err := s.Message(ctx, id)
	if err != nil {
		return "", err
	}
	if rec.State != Held {
		return "", fmt.Errorf("%s is %s, not held", id, rec.State)
	}
	if len(to) == 0 {
		to = rec.Rcpts
	}
	reply, err := inject(ctx, addr, rec.From, to, data)
	if err != nil {
		return reply, err
	}
	return reply, s.SetState(ctx, id, Released)
}

func inject(ctx context.Context, addr, from string, to []string, data []byte) (string, error) {
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
	if _, err := w.Write(data); err != nil {
		return reply(err), err
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

// Audit appends one JSON line per release or delete to path.
func Audit(path, operator, action, id, outcome string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	line, _ := json.Marshal(map[string]string{
		"time": time.Now().UTC().Format(time.RFC3339), "operator": operator, "action": action, "id": id, "outcome": outcome,
	})
	_, err = f.Write(append(line, '\n'))
	return err
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
		Findings: []Finding{{Engine: v.Check, Detail: v.Reason}},
	}
}
