package milter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/policy"
	"outguard/spool"
)

// session is one milter connection, normally one SMTP session. It carries
// the connection data across the messages of the session.
type session struct {
	srv     *Server
	proto   gomilter.OptProtocol
	actions gomilter.OptAction // what the MTA lets us do
	conn    policy.Conn
	tx      *txn
	scratch []byte // a header field as spooled (Header)
}

// txn is the state of one message.
type txn struct {
	policy.Transaction
	st      *State
	spool   *spool.Spool
	ctx     context.Context
	cancel  context.CancelFunc
	pending policy.Verdict // a verdict that takes effect at end-of-message
	err     error          // spooling failed: tempfail at the next stage
	feed    *feeder        // from end-of-headers on
	audited bool           // its verdict line is written
	// headerBytes is what t.Headers holds: at most headerMemory. The
	// fields past it are in the spool only (cut).
	headerBytes int64
	cut         bool
	// rcptBytes is what t.Rcpts and t.Rejected hold: at most rcptMemory.
	rcptBytes int64
	// rejectedCut counts the MTA-refused recipients past rcptMemory,
	// checked but not kept.
	rejectedCut int
	rcptsFull   bool // a recipient was refused past rcptMemory (logged once)
}

// rcptMemory bounds the recipient addresses a transaction keeps. The MTA
// bounds the recipients of a message (Postfix smtpd_recipient_limit, 1000
// by default: well under this), but a client of the milter socket does
// not: before, every RCPT was kept, and one connection of 200 KiB
// recipients held 190 MiB (TestReviewRcptFlood). The recipient past it is
// refused with 452 4.5.3, too many recipients (RFC 5321 4.5.3.1.10): the
// sender sends it again in a later transaction; every recipient kept is
// checked and held, none dropped.
const rcptMemory = 1 << 20

// tooManyRcpts is the reply to a recipient past rcptMemory.
var tooManyRcpts = policy.Verdict{Action: policy.Tempfail, Code: 452, Status: "4.5.3", Text: "Too many recipients", Check: "milter"}

var _ gomilter.Milter = (*session)(nil)

func (s *session) NewConnection(gomilter.Modifier) (err error) {
	defer s.recovered(nil, &err)
	if o := s.srv.state.Load().Observer; o != nil {
		o.Session(1)
	}
	return nil
}

func (s *session) Connect(host, family string, _ uint16, addr string, m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	s.conn = policy.Conn{Name: host, Daemon: m.Get(gomilter.MacroDaemonName)}
	if family == "tcp4" || family == "tcp6" {
		s.conn.Addr, _ = netip.ParseAddr(addr)
	}
	if n := m.Get(gomilter.MacroClientName); n != "" {
		s.conn.Name = n
	}
	return gomilter.RespContinue, nil
}

func (s *session) Helo(name string, _ gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	s.conn.Helo = name
	return gomilter.RespContinue, nil
}

func (s *session) MailFrom(from, _ string, m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	s.end() // a new MAIL without Abort: the MTA reuses the session
	st := s.srv.state.Load()
	t := &txn{st: st, spool: spool.New(st.SpoolDir, st.SpoolLimit).WithBudget(st.SpoolBudget)}
	t.ctx, t.cancel = context.WithCancel(s.srv.ctx)
	t.ID = newID()
	t.Conn = s.conn
	t.From = from
	t.User = m.Get(gomilter.MacroAuthAuthen)
	t.AuthType = m.Get(gomilter.MacroAuthType)
	t.Start = time.Now()
	s.tx = t
	return s.decide(st.Pipeline.Mail(t.ctx, &t.Transaction), m)
}

func (s *session) RcptTo(rcpt, _ string, m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	t := s.tx
	if t == nil {
		return gomilter.RespContinue, nil
	}
	// SMFIP_RCPT_REJ: the MTA tells us about recipients it refused itself,
	// with the enhanced status in {rcpt_host} and its reply in {rcpt_addr}.
	if m.Get(gomilter.MacroRcptMailer) == "error" {
		r := policy.Recipient{
			Addr:   rcpt,
			Status: m.Get(gomilter.MacroRcptHost),
			Text:   m.Get(gomilter.MacroRcptAddr),
		}
		if n := int64(len(r.Addr) + len(r.Status) + len(r.Text)); t.rcptBytes+n <= rcptMemory {
			t.Rejected = append(t.Rejected, r)
			t.rcptBytes += n
		} else {
			t.rejectedCut++
		}
		t.st.Pipeline.Rejected(t.ctx, &t.Transaction, r)
		return gomilter.RespContinue, nil
	}
	if t.rcptBytes+int64(len(rcpt)) > rcptMemory {
		v := tooManyRcpts
		v.Reason = fmt.Sprintf("the message's recipients reached %d bytes", rcptMemory)
		if !t.rcptsFull { // once a message: a flood of them is no flood of log lines
			t.rcptsFull = true
			s.srv.log.Info("recipient refused, and every further one of this message", "user", t.User, "rcpt", rcpt, "verdict", v.Action.String(), "check", v.Check, "reason", v.Reason)
		}
		if o := t.st.Observer; o != nil {
			o.Refused("rcpt", v)
		}
		return gomilter.RejectWithCodeAndReason(uint16(v.Code), v.Reply(""))
	}
	v := t.st.Pipeline.Rcpt(t.ctx, &t.Transaction, rcpt)
	switch v.Action {
	case policy.Tempfail, policy.Reject:
		// Refuses this recipient only; the transaction goes on.
		s.srv.log.Info("recipient refused", "user", t.User, "rcpt", rcpt, "verdict", v.Action.String(), "check", v.Check, "reason", v.Reason)
		if o := t.st.Observer; o != nil {
			o.Refused("rcpt", v)
		}
		return gomilter.RejectWithCodeAndReason(uint16(v.Code), v.Reply(""))
	case policy.Discard:
		return s.decide(v, m)
	}
	t.Rcpts = append(t.Rcpts, rcpt)
	t.rcptBytes += int64(len(rcpt))
	s.hold(v)
	return gomilter.RespContinue, nil
}

func (s *session) Data(gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

func (s *session) Header(name, value string, m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	t := s.tx
	if t == nil {
		return gomilter.RespContinue, nil
	}
	// Every field goes to the spool; t.Headers keeps them for the checks
	// only within memory_limit, or a message of many header fields would
	// be held twice, in memory, beyond any bound (a 40 MB header block).
	// name and value are the wire guard's buffer (our go-milter fork),
	// valid during this call only: what is kept is copied.
	if n := int64(len(name) + len(value)); !t.cut && t.headerBytes+n <= headerMemory {
		t.Headers = append(t.Headers, policy.Header{Name: strings.Clone(name), Value: strings.Clone(strings.TrimLeft(value, " \t"))})
		t.headerBytes += n
	} else {
		t.cut = true
	}
	sep := ":"
	if s.proto&gomilter.OptHeaderLeadingSpace == 0 {
		sep = ": " // the MTA swallowed the space; put the usual one back
	}
	// Assembled in a buffer kept across fields: a header block of many
	// fields makes no garbage here (the spool copies what it is given).
	b := append(append(append(append(s.scratch[:0], name...), sep...), crlf(value)...), "\r\n"...)
	if t.err == nil {
		_, t.err = t.spool.Write(b)
	}
	if s.scratch = b; cap(b) > 64<<10 {
		s.scratch = nil // a long field: do not keep its buffer
	}
	return s.checkSpool(m, gomilter.OptNoHeaderReply)
}

func (s *session) Headers(m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	t := s.tx
	if t == nil {
		return gomilter.RespContinue, nil
	}
	t.QueueID = m.Get(gomilter.MacroQueueId)
	s.write(t, "\r\n")
	if t.err == nil {
		// Streams start with the header block, then get the body as it comes.
		if t.st.Pipeline.Open(t.ctx, &t.Transaction) {
			t.feed = startFeeder(s.srv, t)
		}
	}
	return s.checkSpool(m, gomilter.OptNoEOHReply)
}

func (s *session) BodyChunk(chunk []byte, m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	t := s.tx
	if t == nil {
		return gomilter.RespContinue, nil
	}
	if t.err == nil {
		_, t.err = t.spool.Write(chunk)
		t.feed.kick()
	}
	return s.checkSpool(m, gomilter.OptNoBodyReply)
}

func (s *session) EndOfMessage(m gomilter.Modifier) (resp *gomilter.Response, err error) {
	defer s.recovered(&resp, &err)
	t := s.tx
	if t == nil {
		return gomilter.RespAccept, nil
	}
	if id := m.Get(gomilter.MacroQueueId); id != "" {
		t.QueueID = id // RFC-less but true of Postfix: reliable only from EOH on
	}
	if u := m.Get(gomilter.MacroAuthAuthen); u != "" && t.User == "" {
		t.User = u
	}
	if resp, err := s.checkSpool(m, 0); resp != gomilter.RespContinue || err != nil {
		return resp, err
	}
	t.Message = t.spool
	// The checks get message_timeout from here: progress keeps the MTA
	// waiting, so without a deadline a hung engine would hold it forever.
	ctx := t.ctx
	if d := t.st.MessageTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, fmt.Errorf("message_timeout (%v) passed", d))
		defer cancel()
	}
	v := s.withProgress(t, m, func() policy.Verdict {
		if err := t.feed.finish(); err != nil {
			return policy.New(policy.Tempfail, "spool: "+err.Error())
		}
		return t.st.Pipeline.Message(ctx, t.ctx, &t.Transaction)
	})
	if t.pending.Stronger(v) {
		v = t.pending
	}
	return s.decide(v, m)
}

func (s *session) Abort(gomilter.Modifier) (err error) {
	defer s.recovered(nil, &err)
	s.end()
	return nil
}

func (s *session) Unknown(string, gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

func (s *session) Cleanup(gomilter.Modifier) {
	var err error
	defer s.recovered(nil, &err)
	s.end()
	if o := s.srv.state.Load().Observer; o != nil {
		o.Session(-1)
	}
}

// recovered, deferred by every callback, turns a panic in milterd's code
// for this connection into the end of the connection alone: logged with
// its stack and counted; the MTA gets a tempfail where it waits for an
// answer (resp non-nil), go-milter closes the connection on the error, and
// the MTA applies milter_default_action to the rest of the SMTP session.
func (s *session) recovered(resp **gomilter.Response, err *error) {
	r := recover()
	if r == nil {
		return
	}
	s.srv.panicked(r, debug.Stack())
	if resp != nil {
		*resp = gomilter.RespTempFail
	}
	*err = fmt.Errorf("panic: %v", r)
}

// headerMemory is what t.Headers may hold: the header block of ordinary
// mail, whole, for the checks. The spool has every field already, within
// memory_limit and then on disk: more here would hold the same bytes
// twice, so that a header-heavy message cost more than its body.
const headerMemory = 64 << 10

// count returns how many header fields of the message are named name: the
// milter protocol addresses a field by its index among those. With fields
// past memory_limit it reads them in the spool: a field to remove (an
// untrusted account header) is removed wherever it is.
func (t *txn) count(name string) int {
	n := 0
	if t.cut {
		r := bufio.NewReader(io.NewSectionReader(t.spool, 0, t.spool.Size()))
		for {
			line, err := r.ReadSlice('\n')
			if len(bytes.TrimRight(line, "\r\n")) == 0 && (err == nil || err == io.EOF) {
				return n // the end of the header block
			}
			if field, _, ok := bytes.Cut(line, []byte(":")); ok && line[0] != ' ' && line[0] != '\t' && strings.EqualFold(string(field), name) {
				n++
			}
			for err == bufio.ErrBufferFull { // a line longer than the buffer: its rest
				_, err = r.ReadSlice('\n')
			}
			if err != nil {
				return n
			}
		}
	}
	for _, h := range t.Headers {
		if strings.EqualFold(h.Name, name) {
			n++
		}
	}
	return n
}

// write appends to the spool, remembering the first error.
func (s *session) write(t *txn, str string) {
	if t.err == nil {
		_, t.err = t.spool.Write([]byte(str))
	}
}

// checkSpool tempfails the message as soon as it cannot be kept: at once,
// or, at a stage whose answer the MTA does not wait for (noReply
// negotiated), at the next stage that has an answer (end of headers, end
// of message).
func (s *session) checkSpool(m gomilter.Modifier, noReply gomilter.OptProtocol) (*gomilter.Response, error) {
	if s.proto&noReply != 0 {
		return gomilter.RespContinue, nil
	}
	if t := s.tx; t != nil && t.err != nil {
		return s.decide(policy.New(policy.Tempfail, "spool: "+t.err.Error()), m)
	}
	return gomilter.RespContinue, nil
}

// hold remembers a verdict that needs the whole message (quarantine).
func (s *session) hold(v policy.Verdict) {
	if v.Stronger(s.tx.pending) {
		s.tx.pending = v
	}
}

// decide turns a verdict into the milter reply. Accept before end-of-message
// means "go on"; every final verdict writes the audit line and ends the
// transaction.
func (s *session) decide(v policy.Verdict, m gomilter.Modifier) (*gomilter.Response, error) {
	t := s.tx
	atEOM := t.Message != nil
	if v.Action == policy.Accept && !atEOM {
		return gomilter.RespContinue, nil
	}
	if v.Action == policy.Quarantine && !atEOM {
		s.hold(v)
		return gomilter.RespContinue, nil
	}
	var resp *gomilter.Response
	var err error
	switch v.Action {
	case policy.Accept:
		resp = gomilter.RespAccept
		// Every stamp the message came with goes first, whatever its
		// case: a sender's forged "clean" must not sit above ours.
		if t.st.HeaderName != "" {
			t.RemoveHeader(t.st.HeaderName)
		}
		if s.actions&gomilter.OptChangeHeader != 0 {
			for _, name := range t.Removals() {
				for i := t.count(name); i > 0 && err == nil; i-- {
					err = m.ChangeHeader(i, name, "") // RFC-less milter rule: an empty value deletes
				}
			}
		}
		// Without the MTA's leave to add headers (warned at negotiation)
		// the message goes unstamped rather than tempfailed.
		if t.st.HeaderName != "" && s.actions&gomilter.OptAddHeader != 0 && err == nil {
			err = m.AddHeader(t.st.HeaderName, s.leadSpace()+s.stamp(t))
		}
		if s.actions&gomilter.OptAddHeader != 0 {
			for _, h := range t.Additions() {
				if err == nil {
					err = m.AddHeader(h.Name, s.leadSpace()+h.Value)
				}
			}
		}
	case policy.Tempfail, policy.Reject:
		resp, err = gomilter.RejectWithCodeAndReason(uint16(v.Code), v.Reply(t.QueueID))
		if o := t.st.Observer; o != nil {
			stage := "mail"
			if atEOM {
				stage = "eom"
			}
			o.Refused(stage, v)
		}
	case policy.Discard:
		resp = gomilter.RespDiscard
	case policy.Quarantine:
		resp, v, err = s.quarantine(t, v, m)
	}
	if err != nil {
		v = policy.New(policy.Tempfail, "milter reply: "+err.Error())
		resp, _ = gomilter.RejectWithCodeAndReason(uint16(v.Code), v.Reply(t.QueueID))
	}
	s.audit(t, v)
	s.end()
	return resp, nil
}

// quarantine holds the message: in our quarantine, durably, before the
// MTA is answered (DISCARD, or the MTA's hold queue too with HoldInMTA), or
// without one in the MTA's hold queue. Nothing bounces either way. If the
// message cannot be kept, the answer is tempfail: nothing is lost.
func (s *session) quarantine(t *txn, v policy.Verdict, m gomilter.Modifier) (*gomilter.Response, policy.Verdict, error) {
	q := t.st.Quarantine
	if q == nil {
		return gomilter.RespAccept, v, m.Quarantine(v.Reason)
	}
	// The hold is a commit: its own deadline, and never committed after
	// it (the MTA may have given up on the session by then).
	ctx, cancel := t.st.Pipeline.CommitContext(t.ctx)
	defer cancel()
	id, err := q.Hold(ctx, &t.Transaction, v)
	if err != nil {
		// Not held: never delivered instead. Full: on_full (tempfail by
		// default); any other failure: tempfail, nothing is lost.
		action := policy.Tempfail
		if errors.Is(err, policy.ErrQuarantineFull) && t.st.QuarantineOnFull == policy.Reject {
			action = policy.Reject
		}
		v = policy.New(action, "quarantine failed: "+err.Error())
		resp, _ := gomilter.RejectWithCodeAndReason(uint16(v.Code), v.Reply(t.QueueID))
		return resp, v, nil
	}
	v.Reason += " (quarantine id " + id + ")"
	if t.st.HoldInMTA {
		return gomilter.RespAccept, v, m.Quarantine("outguard quarantine " + id)
	}
	return gomilter.RespDiscard, v, nil
}

// leadSpace is what goes between the colon and a header value we add:
// with SMFIP_HDR_LEADSPC the MTA takes the value verbatim.
func (s *session) leadSpace() string {
	if s.proto&gomilter.OptHeaderLeadingSpace != 0 {
		return " "
	}
	return ""
}

// stamp is the value of the header stamped on accepted mail.
func (s *session) stamp(t *txn) string {
	return stampValue(t.st.Version, t.Stamps(), t.FullyChecked(), t.st.HeaderFull)
}

// Bounds of the stamped header: it goes to every recipient, so it says
// what it must and no more. RFC 5322 2.1.1: a line is at most 998 octets.
const (
	maxNotes     = 10
	maxStampLine = 900
)

// stampValue is "clean" ("accepted, not fully checked" when a check was
// skipped or cut short), or with full detail that, then ", milterd VERSION;
// note; …": every note made printable ASCII (notes carry attacker-chosen
// file and member names), at most maxNotes of them and maxStampLine
// octets, the rest counted as "+N more".
func stampValue(version string, notes []string, checked, full bool) string {
	out := "clean"
	if !checked {
		out = "accepted, not fully checked"
	}
	if !full {
		return out
	}
	out += ", milterd " + printable(version)
	for i, n := range notes {
		more := fmt.Sprintf("; +%d more", len(notes)-i)
		n = "; " + printable(n)
		if i == maxNotes || len(out)+len(n)+len(more) > maxStampLine {
			return out + more
		}
		out += n
	}
	return out
}

// printable replaces every byte outside printable ASCII (controls such as
// CR, LF and ESC, and 8-bit bytes) with "?".
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// audit writes the one line per message verdict.
func (s *session) audit(t *txn, v policy.Verdict) {
	if o := t.st.Observer; o != nil {
		o.Verdict(v, t.spool.Size())
	}
	s.line(t, v.Action.String(), v)
}

// line writes the verdict line: verdict is the action taken, or "aborted"
// for a transaction the MTA or the client ended before a verdict (v is
// then what was pending).
func (s *session) line(t *txn, verdict string, v policy.Verdict) {
	t.audited = true
	s.srv.log.LogAttrs(context.Background(), slog.LevelInfo, "verdict",
		slog.String("qid", t.QueueID),
		slog.String("id", t.ID),
		slog.String("user", t.User),
		slog.String("client", clientString(t.Conn)),
		slog.String("from", t.From),
		slog.Int("rcpts", len(t.Rcpts)),
		slog.Int("rejected_rcpts", len(t.Rejected)+t.rejectedCut),
		slog.Int64("size", t.spool.Size()),
		slog.String("verdict", verdict),
		slog.String("check", v.Check),
		slog.String("reason", v.Reason),
		slog.String("notes", strings.Join(notes(t.Stamps(), t.st.Pipeline.VersionNotes()), "; ")),
		slog.Duration("duration", time.Since(t.Start)),
	)
}

// notes are the transaction's notes and the engines' versions it does not
// name yet: every verdict line says what it was, or would have been,
// checked with.
func notes(stamps, versions []string) []string {
	out := append([]string(nil), stamps...)
	for _, v := range versions {
		if !slices.Contains(stamps, v) {
			out = append(out, v)
		}
	}
	return out
}

// newID returns a random transaction id.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func clientString(c policy.Conn) string {
	if c.Addr.IsValid() {
		return c.Name + "[" + c.Addr.String() + "]"
	}
	return c.Name
}

// end releases the current transaction.
func (s *session) end() {
	if t := s.tx; t != nil {
		if !t.audited { // aborted: every transaction has its line
			s.line(t, "aborted", t.pending)
		}
		t.cancel()
		t.feed.wait()
		t.st.Pipeline.Close(&t.Transaction)
		t.spool.Close()
		s.tx = nil
	}
}

// withProgress runs f while telling the MTA every ProgressInterval that we
// are still working, so that milter_content_timeout does not fire during a
// long scan. Progress needs protocol v6; older MTAs just wait.
//
// f runs on the connection's goroutine and the progress from a timer's:
// most messages are checked well within the interval, and a goroutine,
// a channel and a ticker a message were a cost of their own (issue #32).
// mu keeps the progress from the reply: none is written once f is done.
func (s *session) withProgress(t *txn, m gomilter.Modifier, f func() policy.Verdict) (v policy.Verdict) {
	var mu sync.Mutex
	done := false
	var timer *time.Timer
	tick := func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if err := m.Progress(); err != nil {
			if !errors.Is(err, gomilter.ErrVersionTooLow) {
				// The MTA is gone; stop the checks and let the MTA's side decide.
				t.cancel()
			}
			return
		}
		timer.Reset(t.st.ProgressInterval)
	}
	mu.Lock() // timer is set before tick reads it
	timer = time.AfterFunc(t.st.ProgressInterval, tick)
	mu.Unlock()
	defer func() {
		mu.Lock()
		done = true
		mu.Unlock()
		timer.Stop()
		// A check that panics fails this message, not milterd.
		if r := recover(); r != nil {
			s.srv.panicked(r, debug.Stack())
			v = policy.New(policy.Tempfail, fmt.Sprintf("panic in the checks: %v", r))
		}
	}()
	return f()
}

// crlf turns the bare LF the MTA uses inside folded header values into CRLF.
func crlf(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}
