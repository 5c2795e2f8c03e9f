package complaint

import (
	"context"
	"time"

	"outguard/policy"
)

// The header fields of RFC 9477 (Complaint Feedback Loop Address Header).
const (
	CFBLAddress    = "CFBL-Address"
	CFBLFeedbackID = "CFBL-Feedback-ID"
)

// Options configure the Stamper.
type Options struct {
	Header string // the reference's header field, e.g. X-Outguard-Ref
	Keys   Keys
	Host   string // this smarthost, as the limits store records it
	// Account names the account of a transaction (the limits engine's
	// key); ok false: none, and the message is not stamped.
	Account func(*policy.Transaction) (string, bool)
	// CFBLAddress, when set, is stamped as RFC 9477's CFBL-Address with
	// "report=arf", and the reference as CFBL-Feedback-ID. A receiver
	// honours them only under a DKIM signature made after outguard
	// (docs/suspension.md).
	CFBLAddress string
	Now         func() time.Time
}

// Stamper stamps every accepted message with its reference, as a
// Committer: it runs when every check has passed the message, and the
// milter adds the fields only when the message is accepted.
type Stamper struct{ o Options }

// NewStamper returns the Stamper of o.
func NewStamper(o Options) *Stamper {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Stamper{o: o}
}

func (s *Stamper) Name() string { return "complaints" }

// Commit removes the fields a customer's message came with (a forged
// reference must never sit beside ours, and RFC 9477 allows one
// CFBL-Address), then adds ours.
func (s *Stamper) Commit(_ context.Context, t *policy.Transaction) (policy.Verdict, error) {
	accept := policy.Verdict{Action: policy.Accept}
	t.RemoveHeader(s.o.Header)
	if s.o.CFBLAddress != "" {
		t.RemoveHeader(CFBLAddress)
		t.RemoveHeader(CFBLFeedbackID)
	}
	key, ok := s.o.Account(t)
	if !ok || t.QueueID == "" {
		return accept, nil
	}
	ref, err := s.o.Keys.Seal(Ref{Host: s.o.Host, QueueID: t.QueueID, Account: key, Time: s.o.Now()})
	if err != nil {
		// A login too long to seal: the message goes, unattributable,
		// and the verdict line says so.
		t.Stamp("complaints: not stamped: " + err.Error())
		return accept, nil
	}
	t.AddHeader(s.o.Header, ref)
	if s.o.CFBLAddress != "" {
		t.AddHeader(CFBLAddress, s.o.CFBLAddress+"; report=arf")
		t.AddHeader(CFBLFeedbackID, ref)
	}
	return accept, nil
}
