package policy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestVerdictValidate(t *testing.T) {
	good := []Verdict{
		New(Tempfail, "x"),
		New(Reject, "x"),
		{Action: Accept},
		{Action: Discard},
		{Action: Quarantine},
		{Action: Reject, Code: 554, Status: "5.7.0", Text: "no"},
	}
	for _, v := range good {
		if err := v.Validate(); err != nil {
			t.Errorf("%+v: %v", v, err)
		}
	}
	bad := map[string]Verdict{
		"4xx with reject":   {Action: Reject, Code: 451, Status: "4.7.1"},
		"5xx with tempfail": {Action: Tempfail, Code: 550, Status: "5.7.1"},
		"status class":      {Action: Reject, Code: 550, Status: "4.7.1"},
		"status form":       {Action: Reject, Code: 550, Status: "5.7"},
		"status digits":     {Action: Reject, Code: 550, Status: "5.x.1"},
		"code with accept":  {Action: Accept, Code: 250},
		"multi-line text":   {Action: Reject, Code: 550, Status: "5.7.1", Text: "a\r\nb"},
		"unknown action":    {Action: 9},
	}
	for name, v := range bad {
		if v.Validate() == nil {
			t.Errorf("%s: %+v validated", name, v)
		}
	}
}

func TestReplyCarriesReference(t *testing.T) {
	v := New(Reject, "virus")
	if got := v.Reply("4ABC"); got != "5.7.1 Message rejected by outbound policy (ref 4ABC)" {
		t.Errorf("reply %q", got)
	}
	if strings.Contains(v.Reply(""), "ref") {
		t.Errorf("reply without queue id has a reference")
	}
}

func TestParseAction(t *testing.T) {
	for _, n := range actionNames {
		a, err := ParseAction(n)
		if err != nil || a.String() != n {
			t.Errorf("%s: %v %v", n, a, err)
		}
	}
	if _, err := ParseAction("bounce"); err == nil || !strings.Contains(err.Error(), "accept, tempfail, quarantine, discard, reject") {
		t.Errorf("bad action: %v", err)
	}
}

type fixed struct {
	name string
	v    Verdict
	err  error
	ran  *atomic.Int32
}

func (f fixed) Name() string { return f.name }
func (f fixed) CheckMessage(context.Context, *Transaction) (Verdict, error) {
	f.ran.Add(1)
	return f.v, f.err
}

func (f fixed) CheckMail(context.Context, *Transaction) (Verdict, error) {
	f.ran.Add(1)
	return f.v, f.err
}

func TestPipelineStrongestWinsAndFailurePolicy(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ran atomic.Int32
	boom := errors.New("connection refused")
	cases := []struct {
		name    string
		entries []Entry
		want    Action
		check   string
		ran     int32
		stamps  int
	}{
		{"all accept", []Entry{{fixed{"a", Verdict{}, nil, &ran}, Tempfail}, {fixed{"b", Verdict{}, nil, &ran}, Tempfail}}, Accept, "", 2, 0},
		{"tempfail beats accept", []Entry{{fixed{"a", Verdict{}, nil, &ran}, Tempfail}, {fixed{"b", New(Tempfail, "x"), nil, &ran}, Tempfail}}, Tempfail, "b", 2, 0},
		// At end-of-message the checks run at once: all of them ran.
		{"reject wins", []Entry{{fixed{"a", New(Reject, "x"), nil, &ran}, Tempfail}, {fixed{"b", Verdict{}, nil, &ran}, Tempfail}}, Reject, "a", 2, 0},
		{"engine error tempfails", []Entry{{fixed{"clamd", Verdict{}, boom, &ran}, Tempfail}}, Tempfail, "clamd", 1, 0},
		{"engine error configured reject", []Entry{{fixed{"clamd", Verdict{}, boom, &ran}, Reject}}, Reject, "clamd", 1, 0},
		{"engine error configured accept is stamped", []Entry{{fixed{"clamd", Verdict{}, boom, &ran}, Accept}}, Accept, "", 1, 1},
		{"invalid verdict is an engine error", []Entry{{fixed{"bad", Verdict{Action: Reject, Code: 250}, nil, &ran}, Tempfail}}, Tempfail, "bad", 1, 0},
		{"quarantine beats tempfail", []Entry{{fixed{"a", New(Tempfail, ""), nil, &ran}, Tempfail}, {fixed{"b", Verdict{Action: Quarantine}, nil, &ran}, Tempfail}}, Quarantine, "b", 2, 0},
	}
	for _, tc := range cases {
		ran.Store(0)
		tx := &Transaction{}
		v := NewPipeline(log, tc.entries...).Message(context.Background(), context.Background(), tx)
		if v.Action != tc.want || v.Check != tc.check && v.Action != Accept || ran.Load() != tc.ran || len(tx.Stamps()) != tc.stamps {
			t.Errorf("%s: got %v by %q after %d checks, stamps %q", tc.name, v.Action, v.Check, ran.Load(), tx.Stamps())
		}
		if v.Action == Tempfail && tc.name == "engine error tempfails" && !strings.Contains(v.Reason, "connection refused") {
			t.Errorf("%s: reason %q lacks the error", tc.name, v.Reason)
		}
	}
}

// Before end-of-message the checks run in order, and a reject stops the
// pipeline: the client is answered without asking the others.
func TestRejectStopsAtMail(t *testing.T) {
	var ran atomic.Int32
	p := NewPipeline(slog.New(slog.DiscardHandler), Entry{fixed{"a", New(Reject, "x"), nil, &ran}, Tempfail}, Entry{fixed{"b", Verdict{}, nil, &ran}, Tempfail})
	if v := p.Mail(context.Background(), &Transaction{}); v.Action != Reject || ran.Load() != 1 {
		t.Errorf("got %v after %d checks", v.Action, ran.Load())
	}
}

func TestUnauthenticated(t *testing.T) {
	u := &Unauthenticated{Action: Reject, Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cases := []struct {
		user, addr string
		want       Action
	}{
		{"alice", "203.0.113.9", Accept},
		{"", "10.1.2.3", Accept},
		{"", "::ffff:10.1.2.3", Accept},
		{"", "203.0.113.9", Reject},
	}
	for _, tc := range cases {
		tx := &Transaction{User: tc.user, Conn: Conn{Addr: netip.MustParseAddr(tc.addr)}}
		v, err := u.CheckMail(context.Background(), tx)
		if err != nil || v.Action != tc.want {
			t.Errorf("user %q from %s: %v %v", tc.user, tc.addr, v.Action, err)
		}
		if v.Action == Reject && (v.Code != 530 || v.Validate() != nil) {
			t.Errorf("reject reply %+v", v)
		}
	}
}

// rendezvous is a check that answers only once every other rendezvous
// check of the message has started: run one after another, they would
// wait for each other forever.
type rendezvous struct {
	name    string
	started chan struct{} // closed when this one starts
	others  []chan struct{}
}

func (r rendezvous) Name() string { return r.name }
func (r rendezvous) CheckMessage(ctx context.Context, _ *Transaction) (Verdict, error) {
	close(r.started)
	for _, o := range r.others {
		select {
		case <-o:
		case <-ctx.Done():
			return Verdict{}, errors.New("ran alone: the other check had not started")
		}
	}
	return Verdict{}, nil
}

// At end-of-message the checks run at once (YARA walks while clamd scans).
func TestMessageChecksRunAtOnce(t *testing.T) {
	a, b := make(chan struct{}), make(chan struct{})
	p := NewPipeline(slog.New(slog.DiscardHandler),
		Entry{rendezvous{"clamd", a, []chan struct{}{b}}, Tempfail},
		Entry{rendezvous{"rules", b, []chan struct{}{a}}, Tempfail})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v := p.Message(ctx, ctx, &Transaction{}); v.Action != Accept {
		t.Fatalf("got %v (%s): the checks ran one after the other", v.Action, v.Reason)
	}
}
