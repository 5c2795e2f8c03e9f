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
	key, ok := s.o.Account(t)
	if !ok || t.QueueID == "" {
		key = ""
	}
	remove, add, err := s.Fields(s.o.Host, t.QueueID, key)
	for _, name := range remove {
		t.RemoveHeader(name)
	}
	if err != nil {
		// A login too long to seal: the message goes, unattributable,
		// and the verdict line says so.
		t.Stamp("complaints: not stamped: " + err.Error())
	}
	for _, h := range add {
		t.AddHeader(h.Name, h.Value)
	}
	return accept, nil
}

// Fields are the header fields to remove from a message (whatever it
// came with) and the ones to add to it: its reference, sealed now, naming
// the smarthost, the queue id there and the account ("": none, nothing
// added). Commit stamps accepted mail with them, a quarantine release
// the mail it releases (quarantine.Store.Stamp).
func (s *Stamper) Fields(host, queueID, account string) (remove []string, add []policy.Header, err error) {
	remove = []string{s.o.Header}
	if s.o.CFBLAddress != "" {
		remove = append(remove, CFBLAddress, CFBLFeedbackID)
	}
	// Without cfbl_address a customer's own CFBL-Feedback-ID stays
	// beside our reference, which the parser takes first. A message we
	// do not stamp must not keep it: the parser reads it as a reference,
	// and a customer could have copied one of another account's there.
	unstamped := remove
	if s.o.CFBLAddress == "" {
		unstamped = []string{s.o.Header, CFBLFeedbackID}
	}
	if account == "" {
		return unstamped, nil, nil
	}
	ref, err := s.o.Keys.Seal(Ref{Host: host, QueueID: queueID, Account: account, Time: s.o.Now()})
	if err != nil {
		return unstamped, nil, err
	}
	add = []policy.Header{{Name: s.o.Header, Value: ref}}
	if s.o.CFBLAddress != "" {
		add = append(add, policy.Header{Name: CFBLAddress, Value: s.o.CFBLAddress + "; report=arf"}, policy.Header{Name: CFBLFeedbackID, Value: ref})
	}
	return remove, add, nil
}
