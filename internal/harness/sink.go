package harness

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is what the sink received.
type Message struct {
	From  string
	Rcpts []string
	Data  []byte
}

// Sink is an SMTP server that keeps what Postfix relays to it and refuses
// the recipients it is told to.
type Sink struct {
	Port int
	srv  *smtp.Server

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{}
	answers map[string]answer
}

// answer is how the sink answers RCPT TO for one address.
type answer struct {
	delay time.Duration
	err   *smtp.SMTPError
}

// StartSink starts a sink on a free loopback port.
func StartSink(t T) *Sink {
	t.Helper()
	s := &Sink{arrived: make(chan struct{}, 1), answers: map[string]answer{}}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.MaxMessageBytes = 200 << 20
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%v", err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Refuse makes the sink answer RCPT TO:<addr> with a permanent 550 5.1.1.
func (s *Sink) Refuse(addr string) { s.Answer(addr, 0, refused) }

// Defer makes the sink answer RCPT TO:<addr> with a temporary 450 4.2.0.
func (s *Sink) Defer(addr string) {
	s.Answer(addr, 0, &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox busy, try later"})
}

var refused = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}

// RefuseAfter refuses addr like Refuse, but only after delay: the MTA's
// bounce comes that much after the message was accepted.
func (s *Sink) RefuseAfter(addr string, delay time.Duration) { s.Answer(addr, delay, refused) }

// Answer makes the sink answer RCPT TO:<addr> with err (nil: accept) after
// delay.
func (s *Sink) Answer(addr string, delay time.Duration, err *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[addr] = answer{delay, err}
}

// Messages returns a copy of what arrived so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until n messages arrived in total, or fails the test.
func (s *Sink) Wait(t T, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("sink: %d of %d messages arrived within %v", len(s.Messages()), n, timeout)
		}
	}
}

// NewSession implements smtp.Backend.
func (s *Sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink *Sink
	msg  Message
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.msg = Message{From: from}
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.sink.mu.Lock()
	a := ss.sink.answers[to]
	ss.sink.mu.Unlock()
	time.Sleep(a.delay)
	if a.err != nil {
		return a.err
	}
	ss.msg.Rcpts = append(ss.msg.Rcpts, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	ss.msg.Data = b.Bytes()
	ss.sink.mu.Lock()
	ss.sink.msgs = append(ss.sink.msgs, ss.msg)
	ss.sink.mu.Unlock()
	select {
	case ss.sink.arrived <- struct{}{}:
	default:
	}
	return nil
}
func (ss *sinkSession) Reset()        { ss.msg = Message{} }
func (ss *sinkSession) Logout() error { return nil }
