// Package milter is the protocol glue between the MTA and outguard's policy
// pipeline: it builds one policy.Transaction per message from the milter
// callbacks of github.com/d--j/go-milter and turns verdicts into replies.
//
// Every byte from the MTA passes the wire guard (wire.go) before go-milter
// sees it: each packet checked against its command's grammar and size,
// deadlines, a cap on connections, accept errors retried. go-milter
// v0.10.2 indexes packets without length checks, in a goroutine no recover
// of ours reaches; the guard under it was chosen over a fork (a module to
// carry and rebase, with its licence) because the protocol is small and
// the guard keeps the library's fixes coming. Issue #32 carries go-milter
// as a fork anyway (third_party/go-milter, FORK.md), for the cost of its
// packet path alone; the validation stays in the guard. wire.go says more.
package milter

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/policy"
	"outguard/spool"
)

// State is everything a transaction needs that a reload may change. A
// transaction keeps the State it started with.
type State struct {
	Pipeline         *policy.Pipeline
	HeaderName       string        // stamp accepted mail with this header; empty: off
	HeaderFull       bool          // the stamp names versions and notes, not just the verdict
	MessageTimeout   time.Duration // the end-of-message checks' deadline; 0: none
	QuarantineOnFull policy.Action // the quarantine at its quota: tempfail or reject
	Version          string        // milterd version, for the stamped header
	SpoolDir         string
	SpoolLimit       int64         // bytes held in memory before spooling to disk
	SpoolBudget      *spool.Budget // bytes all messages may keep on disk at once (spool.max_total); nil: no bound
	ProgressInterval time.Duration
	// Quarantine keeps held messages; nil: the MTA's hold queue is used.
	Quarantine Quarantiner
	// HoldInMTA: a quarantined message is also put in the MTA's hold queue
	// (SMFIR_QUARANTINE) instead of being discarded by the MTA.
	HoldInMTA bool
	// Observer learns of sessions and verdicts (metrics); may be nil.
	Observer Observer
	// Connection bounds, taken by each connection at accept (wire.go).
	MaxConnections int           // milter connections at once; more are closed at accept; 0: no cap
	ReadTimeout    time.Duration // for the negotiation, and for each packet once begun; 0: none
	IdleTimeout    time.Duration // between packets of a negotiated connection; 0: none
}

// Observer is told of milter sessions and of every message verdict.
type Observer interface {
	Session(delta int)
	Verdict(v policy.Verdict, size int64)
	Refused(stage string, v policy.Verdict) // a tempfail or reject: at "mail", "rcpt" (one recipient) or "eom"
	ConnEvent(event string)                 // the wire guard closed a connection or retried an accept: Event*
}

// Quarantiner keeps a held message durably; when Hold returns nil the
// message is safe and the MTA may be told to drop it.
type Quarantiner interface {
	Hold(ctx context.Context, t *policy.Transaction, v policy.Verdict) (id string, err error)
}

// Server accepts milter connections from the MTA.
type Server struct {
	log   *slog.Logger
	state atomic.Pointer[State]
	srv   *gomilter.Server

	// ctx is cancelled by Close: transactions stop their checks.
	ctx    context.Context
	cancel context.CancelFunc

	warnOnce sync.Map    // missing-feature name -> struct{}
	unix     atomic.Bool // serving a unix socket: see unixProtocol
	overCap  overCap
}

// Macros requested per stage: those the session reads there, no more.
// Postfix and Sendmail send only what is asked, and every macro is bytes
// the MTA expands, packs and sends and go-milter parses and keeps, for
// every message (issue #32: {client_addr} and {j} at connect,
// {auth_author} and {mail_addr} at MAIL, {i} at RCPT and {auth_authen}
// at the end of the headers were asked for and never read; the address
// comes with the connect packet, a macro not sent at a stage is found at
// an earlier one).
var macros = map[gomilter.MacroStage][]gomilter.MacroName{
	gomilter.StageConnect: {gomilter.MacroClientName, gomilter.MacroDaemonName},
	gomilter.StageMail:    {gomilter.MacroAuthAuthen, gomilter.MacroAuthType},
	gomilter.StageRcpt:    {gomilter.MacroRcptMailer, gomilter.MacroRcptHost, gomilter.MacroRcptAddr},
	gomilter.StageEOH:     {gomilter.MacroQueueId},
	gomilter.StageEOM:     {gomilter.MacroQueueId, gomilter.MacroAuthAuthen},
}

// Protocol flags we ask for. Over TCP no stage is negotiated away and every
// stage is answered: Postfix sets no TCP_NODELAY, and a packet the milter
// does not answer costs a delayed-ACK stall (~40 ms) on the next one. Over
// a unix socket there is no Nagle: the stages whose answer is always
// "continue" go unanswered (SMFIP_NR_*: connect, HELO, DATA, unknown, and
// each header, the end of the headers (issue #32) and each body chunk,
// whose only other answer, a spool failure, is given at the end of the
// message instead), and DATA and unknown commands, which milterd does not
// use, are not sent (SMFIP_NODATA, SMFIP_NOUNKNOWN): fewer round trips a
// message.
const (
	unixProtocol = gomilter.OptNoConnReply | gomilter.OptNoHeloReply | gomilter.OptNoDataReply | gomilter.OptNoUnknownReply |
		gomilter.OptNoHeaderReply | gomilter.OptNoEOHReply | gomilter.OptNoBodyReply | gomilter.OptNoData | gomilter.OptNoUnknown
	wantProtocol = gomilter.OptRcptRej | gomilter.OptHeaderLeadingSpace
	wantActions  = gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine
)

var libLogOnce sync.Once

// New returns a server using st until SetState replaces it.
func New(log *slog.Logger, st *State) *Server {
	libLogOnce.Do(func() { // the library logs through a package variable
		gomilter.LogWarning = func(format string, v ...any) {
			log.Warn("milter library: " + fmt.Sprintf(format, v...))
		}
	})
	s := &Server{log: log}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.state.Store(st)
	opts := []gomilter.Option{
		gomilter.WithDynamicMilter(func(_ uint32, actions gomilter.OptAction, proto gomilter.OptProtocol, _ gomilter.DataSize) gomilter.Milter {
			return &session{srv: s, proto: proto, actions: actions}
		}),
		gomilter.WithActions(wantActions),
		gomilter.WithProtocols(wantProtocol),
		gomilter.WithNegotiationCallback(s.negotiate),
	}
	for stage, names := range macros {
		opts = append(opts, gomilter.WithMacroRequest(stage, names))
	}
	s.srv = gomilter.NewServer(opts...)
	return s
}

// SetState swaps in a new state; running transactions finish with the old.
func (s *Server) SetState(st *State) { s.state.Store(st) }

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.unix.Store(ln.Addr().Network() == "unix")
	err := s.srv.Serve(&guardListener{Listener: ln, srv: s, freed: make(chan struct{}, 1)})
	if err == gomilter.ErrServerClosed {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for the MTA to finish its
// sessions until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.cancel()
	}
	return err
}

// Close stops at once.
func (s *Server) Close() error {
	s.cancel()
	return s.srv.Close()
}

// negotiate degrades instead of failing when the MTA offers less than we
// ask for (an older Postfix, Sendmail, or a test client such as miltertest):
// each missing feature is logged once.
func (s *Server) negotiate(mtaVersion, milterVersion uint32, mtaActions, milterActions gomilter.OptAction, mtaProto, milterProto gomilter.OptProtocol, _ gomilter.DataSize) (uint32, gomilter.OptAction, gomilter.OptProtocol, gomilter.DataSize, error) {
	if mtaVersion < 2 {
		return 0, 0, 0, 0, fmt.Errorf("milter protocol version %d is too old", mtaVersion)
	}
	version := min(mtaVersion, milterVersion)
	if version < 6 {
		s.warn("protocol v6", "no progress reports during long checks, no per-stage macro requests")
	}
	if mtaProto&gomilter.OptRcptRej == 0 {
		s.warn("SMFIP_RCPT_REJ", "recipients the MTA rejects are not seen or counted")
	}
	if mtaProto&gomilter.OptHeaderLeadingSpace == 0 {
		s.warn("SMFIP_HDR_LEADSPC", "header whitespace after the colon is normalised to one space")
	}
	if mtaActions&gomilter.OptAddHeader == 0 {
		s.warn("SMFIF_ADDHDRS", "accepted mail is delivered without the "+s.state.Load().HeaderName+" stamp")
	}
	if mtaActions&gomilter.OptChangeHeader == 0 {
		s.warn("SMFIF_CHGHDRS", "an account header from an untrusted client (limits.trusted_header) cannot be removed")
	}
	if mtaActions&gomilter.OptQuarantine == 0 {
		s.warn("SMFIF_QUARANTINE", "the MTA's hold queue cannot be used")
	}
	s.log.Debug("milter negotiated", "mta_version", mtaVersion, "version", version,
		"mta_actions", fmt.Sprintf("%#x", uint32(mtaActions)), "mta_protocol", fmt.Sprintf("%#x", uint32(mtaProto)),
		"protocol", fmt.Sprintf("%#x", uint32(milterProto&mtaProto)))
	if s.unix.Load() && version >= 6 {
		milterProto |= unixProtocol
	}
	// 64 KiB body chunks whatever the MTA offers: the wire guard's bound.
	return version, milterActions & mtaActions, milterProto & mtaProto, gomilter.DataSize64K, nil
}

func (s *Server) warn(feature, effect string) {
	if _, dup := s.warnOnce.LoadOrStore(feature, struct{}{}); !dup {
		s.log.Warn("MTA does not offer "+feature+"; degrading", "effect", effect)
	}
}
