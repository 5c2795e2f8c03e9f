package policy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
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
	ran  *int
}

func (f fixed) Name() string { return f.name }
func (f fixed) CheckMessage(context.Context, *Transaction) (Verdict, error) {
	*f.ran++
	return f.v, f.err
}

func TestPipelineStrongestWinsAndFailurePolicy(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ran int
	boom := errors.New("connection refused")
	cases := []struct {
		name    string
		entries []Entry
		want    Action
		check   string
		ran     int
		stamps  int
	}{
		{"all accept", []Entry{{fixed{"a", Verdict{}, nil, &ran}, Tempfail}, {fixed{"b", Verdict{}, nil, &ran}, Tempfail}}, Accept, "", 2, 0},
		{"tempfail beats accept", []Entry{{fixed{"a", Verdict{}, nil, &ran}, Tempfail}, {fixed{"b", New(Tempfail, "x"), nil, &ran}, Tempfail}}, Tempfail, "b", 2, 0},
		{"reject stops the pipeline", []Entry{{fixed{"a", New(Reject, "x"), nil, &ran}, Tempfail}, {fixed{"b", Verdict{}, nil, &ran}, Tempfail}}, Reject, "a", 1, 0},
		{"engine error tempfails", []Entry{{fixed{"clamd", Verdict{}, boom, &ran}, Tempfail}}, Tempfail, "clamd", 1, 0},
		{"engine error configured reject", []Entry{{fixed{"clamd", Verdict{}, boom, &ran}, Reject}}, Reject, "clamd", 1, 0},
		{"engine error configured accept is stamped", []Entry{{fixed{"clamd", Verdict{}, boom, &ran}, Accept}}, Accept, "", 1, 1},
		{"invalid verdict is an engine error", []Entry{{fixed{"bad", Verdict{Action: Reject, Code: 250}, nil, &ran}, Tempfail}}, Tempfail, "bad", 1, 0},
		{"quarantine beats tempfail", []Entry{{fixed{"a", New(Tempfail, ""), nil, &ran}, Tempfail}, {fixed{"b", Verdict{Action: Quarantine}, nil, &ran}, Tempfail}}, Quarantine, "b", 2, 0},
	}
	for _, tc := range cases {
		ran = 0
		tx := &Transaction{}
		v := NewPipeline(log, tc.entries...).Message(context.Background(), tx)
		if v.Action != tc.want || v.Check != tc.check && v.Action != Accept || ran != tc.ran || len(tx.Stamps()) != tc.stamps {
			t.Errorf("%s: got %v by %q after %d checks, stamps %q", tc.name, v.Action, v.Check, ran, tx.Stamps())
		}
		if v.Action == Tempfail && tc.name == "engine error tempfails" && !strings.Contains(v.Reason, "connection refused") {
			t.Errorf("%s: reason %q lacks the error", tc.name, v.Reason)
		}
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
