package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Client is an SMTP client session, optionally authenticated.
type Client struct {
	c *smtp.Client
}

// Dial connects to addr and, when user is not empty, authenticates with
// AUTH PLAIN.
func Dial(t T, addr, user, pass string) *Client {
	t.Helper()
	return DialFrom(t, addr, "", user, pass)
}

// DialFrom is Dial from the source address from ("": the system's choice),
// e.g. 127.0.3.1: any address of 127.0.0.0/8 is the loopback's, so a test
// is a client on as many networks as it likes.
func DialFrom(t T, addr, from, user, pass string) *Client {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%v", err)
	}
	c := smtp.NewClient(conn)
	if err := c.Hello("client.test"); err != nil {
		t.Fatalf("%v", err)
	}
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			t.Fatalf("AUTH %s: %v", user, err)
		}
	}
	t.Cleanup(func() { c.Close() })
	return &Client{c: c}
}

// Result is what the server said to one message.
type Result struct {
	Rcpt map[string]error // RCPT TO reply per refused recipient
	Err  error            // MAIL, DATA or end-of-data reply; nil when accepted
}

// Reply formats an SMTP error as "550 5.7.1 text", or "250" for nil.
func Reply(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
	}
	if err != nil {
		return err.Error()
	}
	return "250"
}

// Send sends one message in the session. The session stays usable.
func (c *Client) Send(from string, rcpts []string, data string) Result {
	return c.SendFrom(from, rcpts, strings.NewReader(strings.ReplaceAll(data, "\n", "\r\n")))
}

// SendFrom sends the message read from r, which must use CRLF line ends.
func (c *Client) SendFrom(from string, rcpts []string, msg io.Reader) Result {
	r := Result{Rcpt: map[string]error{}}
	if err := c.c.Mail(from, nil); err != nil {
		r.Err = err
		c.c.Reset()
		return r
	}
	accepted := 0
	for _, to := range rcpts {
		if err := c.c.Rcpt(to, nil); err != nil {
			r.Rcpt[to] = err
			continue
		}
		accepted++
	}
	if accepted == 0 {
		r.Err = errors.New("no recipient accepted")
		c.c.Reset()
		return r
	}
	w, err := c.c.Data()
	if err != nil {
		r.Err = err
		c.c.Reset()
		return r
	}
	if _, err := io.Copy(w, msg); err != nil {
		r.Err = err
		return r
	}
	r.Err = w.Close()
	return r
}

// Raw is the SMTP client, for tests that act between the commands.
func (c *Client) Raw() *smtp.Client { return c.c }

// Quit ends the session politely.
func (c *Client) Quit() error { return c.c.Quit() }

// Msg builds a small RFC 5322 message with LF line ends (Send makes CRLF).
func Msg(from, to, subject, body string, extra ...string) string {
	h := fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@client.test>\n", from, to, subject, strings.ReplaceAll(subject, " ", "."))
	for _, e := range extra {
		h += e + "\n"
	}
	return h + "\n" + body + "\n"
}

// RejectAll makes a test Postfix (MTAConfig.RcptAccess) refuse n recipients with 5.1.1.
func RejectAll(n int) (map[string]string, []string) {
	access := map[string]string{}
	var rcpts []string
	for i := range n {
		a := fmt.Sprintf("nobody%d@remote.test", i)
		access[a] = "REJECT 5.1.1 no such user"
		rcpts = append(rcpts, a)
	}
	return access, rcpts
}
