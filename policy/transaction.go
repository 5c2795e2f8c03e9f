package policy

import (
	"io"
	"net/netip"
	"sync"
	"time"
)

// Conn is what the MTA told us about the SMTP client. It outlives the
// transactions of the session.
type Conn struct {
	Addr   netip.Addr // invalid when the client did not come over IP
	Name   string     // verified reverse name, or "unknown"
	Helo   string
	Daemon string // {daemon_name}, e.g. Postfix's service name
}

// Recipient is an envelope recipient. Status and Text are set only for
// recipients the MTA rejected itself (milter SMFIP_RCPT_REJ).
type Recipient struct {
	Addr   string
	Status string // enhanced status the MTA gave, e.g. "5.1.1"
	Text   string // the MTA's reply text
}

// Permanent reports whether a rejected recipient was refused for good
// (RFC 3463 2: class 5), as opposed to a temporary 4.x.x refusal.
func (r Recipient) Permanent() bool { return len(r.Status) > 0 && r.Status[0] == '5' }

// Header is one header field as the MTA passed it, value unfolded nowhere.
type Header struct {
	Name  string
	Value string
}

// Message is the spooled message, header block and body, as received.
type Message interface {
	io.ReaderAt
	Size() int64
}

// Transaction is one message: envelope, headers and the spooled content.
// Checks read it; only the milter glue and the pipeline write it.
type Transaction struct {
	ID       string // ours, unique: the queue id is not known before end-of-headers
	Conn     Conn
	User     string // SASL login ({auth_authen}); empty when not authenticated
	AuthType string
	From     string
	Rcpts    []string
	Rejected []Recipient
	QueueID  string
	Headers  []Header
	Message  Message // set at end-of-message
	Start    time.Time

	// mu guards what checks write: the end-of-message checks run at once.
	mu        sync.Mutex
	stamps    []string
	findings  []Finding
	unchecked bool
	removals  []string
	additions []Header
	streams   []openStream // by pipeline entry, from end-of-headers on
	values    map[any]any
}

// RemoveHeader asks for every field named name to be removed from the
// message when it is accepted.
func (t *Transaction) RemoveHeader(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removals = append(t.removals, name)
}

// Removals returns the header names to remove, as RemoveHeader asked.
func (t *Transaction) Removals() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removals
}

// AddHeader asks for a field to be added to the message when it is
// accepted (and only then: a refused or held message is not changed), after
// the removals.
func (t *Transaction) AddHeader(name, value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.additions = append(t.additions, Header{Name: name, Value: value})
}

// Additions returns the fields to add, as AddHeader asked.
func (t *Transaction) Additions() []Header {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.additions
}

// Value returns what a check stored with SetValue for this transaction.
func (t *Transaction) Value(key any) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.values[key]
}

// SetValue keeps per-transaction state of a check, from stage to stage.
// Use an unexported key type, as with context.Context.
func (t *Transaction) SetValue(key, v any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.values == nil {
		t.values = map[any]any{}
	}
	t.values[key] = v
}

type openStream struct {
	s    Stream
	err  error // OpenStream failed: the entry's failure policy applies
	open bool
}

// Stamp records a note for the stamped header and the audit line, such as
// the version of an engine or the fact that it could not scan.
func (t *Transaction) Stamp(note string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stamps = append(t.stamps, note)
}

// Unchecked records a note like Stamp, for something that was accepted
// without being fully checked (an engine failed with on_error accept, a
// message over a scan limit): even the short stamp says so.
func (t *Transaction) Unchecked(note string) {
	t.Stamp(note)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unchecked = true
}

// FullyChecked reports whether no check was skipped or cut short.
func (t *Transaction) FullyChecked() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.unchecked
}

// Findings returns what the checks found, every engine's.
func (t *Transaction) Findings() []Finding {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.findings
}

func (t *Transaction) addFindings(engine string, fs []Finding) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range fs {
		if f.Engine == "" {
			f.Engine = engine
		}
		t.findings = append(t.findings, f)
	}
}

// Stamps returns the notes recorded with Stamp, in order.
func (t *Transaction) Stamps() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stamps
}

// Reader returns a reader over the whole message as received.
func (t *Transaction) Reader() *io.SectionReader {
	return io.NewSectionReader(t.Message, 0, t.Message.Size())
}
