package milter_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/milter"
	"outguard/policy"
)

// recorder is a test check: it records every transaction it sees and gives
// the verdict named in the X-Test-Verdict header.
type recorder struct {
	mu    sync.Mutex
	txs   []*policy.Transaction
	raw   []string
	sleep time.Duration
}

func (r *recorder) Name() string { return "test" }

func (r *recorder) CheckMessage(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	raw, err := io.ReadAll(t.Reader())
	if err != nil {
		return policy.Verdict{}, err
	}
	r.mu.Lock()
	r.txs = append(r.txs, t)
	r.raw = append(r.raw, string(raw))
	r.mu.Unlock()
	select {
	case <-time.After(r.sleep):
	case <-ctx.Done():
		return policy.Verdict{}, ctx.Err()
	}
	for _, h := range t.Headers {
		if h.Name == "X-Test-Verdict" {
			a, err := policy.ParseAction(h.Value)
			if err != nil {
				return policy.Verdict{}, err
			}
			return policy.New(a, "test header asked for "+h.Value), nil
		}
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

func (r *recorder) seen() []*policy.Transaction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*policy.Transaction(nil), r.txs...)
}

// env is a real Postfix wired to an in-process milter and a sink.
type env struct {
	pf   *harness.Postfix
	sink *harness.Sink
	rec  *recorder
	log  *harness.LogBuffer
}

const (
	user = harness.User
	pass = harness.Pass
)

type envOpts struct {
	inet       bool
	rcptAccess map[string]string
	main       map[string]string
	checks     []policy.Entry
	spoolLimit int64
	spoolDir   string // "": a temporary directory
	progress   time.Duration
}

func startEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	rec := &recorder{}
	if o.spoolLimit == 0 {
		o.spoolLimit = 1 << 20
	}
	if o.progress == 0 {
		o.progress = 10 * time.Second
	}
	if o.spoolDir == "" {
		o.spoolDir = t.TempDir()
	}
	s := harness.StartStack(t, harness.StackConfig{
		Inet: o.inet,
		State: func(log *slog.Logger) *milter.State {
			return &milter.State{
				Pipeline:         policy.NewPipeline(log, append(o.checks, policy.Entry{Check: rec, OnError: policy.Tempfail})...),
				HeaderName:       "X-Outguard",
				HeaderFull:       true,
				Version:          "test",
				SpoolDir:         o.spoolDir,
				SpoolLimit:       o.spoolLimit,
				ProgressInterval: o.progress,
			}
		},
		Postfix: harness.MTAConfig{RcptAccess: o.rcptAccess, Main: o.main},
	})
	return &env{pf: s.Postfix, sink: s.Sink, rec: rec, log: s.Log}
}

// A sender's own X-Outguard headers (a forged "clean", in any case, folded
// or not) never reach the recipient: ours is the only one. Before: they
// were kept, above the real stamp.
func TestForgedStampRemoved(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{})
	c := harness.Dial(t, e.pf.Addr(), user, pass)
	msg := harness.Msg("alice@customer.test", "friend@remote.test", "forged", "clean text",
		"X-Outguard: clean, milterd 9.9", "x-outguard: clean", "X-OUTGUARD:\n\tclean, folded")
	if r := c.Send("alice@customer.test", []string{"friend@remote.test"}, msg); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	got := e.sink.Wait(t, 1, 10*time.Second)[0]
	stamps := regexp.MustCompile(`(?mi)^x-outguard:.*$`).FindAll(got.Data, -1)
	if len(stamps) != 1 || !regexp.MustCompile(`^X-Outguard: clean, milterd test\r$`).Match(stamps[0]) || bytes.Contains(got.Data, []byte("folded")) {
		t.Errorf("stamps %q in:\n%s", stamps, got.Data)
	}
}

func TestCleanMailIsStampedAndDelivered(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"unix", "inet"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			e := startEnv(t, envOpts{inet: network == "inet"})
			c := harness.Dial(t, e.pf.Addr(), user, pass)
			r := c.Send("alice@customer.test", []string{"friend@remote.test"}, harness.Msg("alice@customer.test", "friend@remote.test", "hello", "clean text"))
			if r.Err != nil {
				t.Fatalf("clean mail: %s", harness.Reply(r.Err))
			}
			got := e.sink.Wait(t, 1, 10*time.Second)[0]
			if !regexp.MustCompile(`(?m)^X-Outguard: clean, milterd test\r$`).Match(got.Data) {
				t.Errorf("delivered message lacks the stamp:\n%s", got.Data)
			}
			txs := e.rec.seen()
			if len(txs) != 1 {
				t.Fatalf("check saw %d transactions, want 1", len(txs))
			}
			tx := txs[0]
			if tx.User != user || tx.From != "alice@customer.test" || len(tx.Rcpts) != 1 || tx.Rcpts[0] != "friend@remote.test" {
				t.Errorf("transaction envelope: user=%q from=%q rcpts=%q", tx.User, tx.From, tx.Rcpts)
			}
			if tx.Conn.Addr.String() != "127.0.0.1" {
				t.Errorf("client address %q, want 127.0.0.1", tx.Conn.Addr)
			}
			if tx.QueueID == "" || !strings.Contains(e.pf.LogText(), tx.QueueID+": ") {
				t.Errorf("queue id %q not in the Postfix log", tx.QueueID)
			}
			if !strings.Contains(e.log.String(), "qid="+tx.QueueID) || !strings.Contains(e.log.String(), "verdict=accept") {
				t.Errorf("no audit line for %s:\n%s", tx.QueueID, e.log.String())
			}
		})
	}
}

func TestTwoMessagesInOneSession(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{})
	c := harness.Dial(t, e.pf.Addr(), user, pass)
	for i, to := range []string{"one@remote.test", "two@remote.test"} {
		if r := c.Send("alice@customer.test", []string{to}, harness.Msg("alice@customer.test", to, "msg", "body")); r.Err != nil {
			t.Fatalf("message %d: %s", i, harness.Reply(r.Err))
		}
	}
	c.Quit()
	e.sink.Wait(t, 2, 10*time.Second)
	txs := e.rec.seen()
	if len(txs) != 2 {
		t.Fatalf("check saw %d transactions, want 2", len(txs))
	}
	if txs[0].QueueID == txs[1].QueueID {
		t.Errorf("both messages have queue id %q", txs[0].QueueID)
	}
	for i, tx := range txs {
		if len(tx.Rcpts) != 1 || tx.User != user || tx.Conn.Addr.String() != "127.0.0.1" || tx.Conn.Helo != "client.test" {
			t.Errorf("message %d: rcpts=%q user=%q conn=%+v", i, tx.Rcpts, tx.User, tx.Conn)
		}
	}
	if txs[1].Rcpts[0] != "two@remote.test" {
		t.Errorf("second transaction kept the first one's recipients: %q", txs[1].Rcpts)
	}
}

func TestRecipientsRejectedByPostfixReachTheTransaction(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{rcptAccess: map[string]string{
		"nobody@remote.test": "REJECT 5.1.1 no such user",
		"later@remote.test":  "DEFER 4.2.0 try later",
	}})
	c := harness.Dial(t, e.pf.Addr(), user, pass)
	r := c.Send("alice@customer.test", []string{"nobody@remote.test", "ok@remote.test", "later@remote.test"}, harness.Msg("alice@customer.test", "ok@remote.test", "rej", "body"))
	if r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	if got := harness.Reply(r.Rcpt["nobody@remote.test"]); !strings.HasPrefix(got, "554 5.1.1") && !strings.HasPrefix(got, "550 5.1.1") {
		t.Errorf("RCPT nobody: %s", got)
	}
	txs := e.rec.seen()
	if len(txs) != 1 {
		t.Fatalf("check saw %d transactions", len(txs))
	}
	tx := txs[0]
	if len(tx.Rcpts) != 1 || tx.Rcpts[0] != "ok@remote.test" {
		t.Errorf("accepted recipients %q", tx.Rcpts)
	}
	want := map[string]string{"nobody@remote.test": "5.1.1", "later@remote.test": "4.2.0"}
	if len(tx.Rejected) != 2 {
		t.Fatalf("rejected recipients %+v, want 2", tx.Rejected)
	}
	for _, rj := range tx.Rejected {
		if want[rj.Addr] != rj.Status {
			t.Errorf("rejected %s with status %q, want %q", rj.Addr, rj.Status, want[rj.Addr])
		}
		if rj.Permanent() != (rj.Status[0] == '5') {
			t.Errorf("%s: Permanent()=%v", rj.Addr, rj.Permanent())
		}
	}
	if !strings.Contains(tx.Rejected[0].Text+tx.Rejected[1].Text, "no such user") {
		t.Errorf("MTA reply text not kept: %+v", tx.Rejected)
	}
}

func TestVerdictsReachTheClient(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{})
	cases := []struct {
		verdict string
		want    string // reply prefix; "250" for accepted
	}{
		{"reject", "550 5.7.1 Message rejected by outbound policy (ref "},
		{"tempfail", "451 4.7.1 Message temporarily deferred by outbound policy, try again later (ref "},
		{"discard", "250"},
	}
	for _, tc := range cases {
		t.Run(tc.verdict, func(t *testing.T) {
			c := harness.Dial(t, e.pf.Addr(), user, pass)
			r := c.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", tc.verdict, "body", "X-Test-Verdict: "+tc.verdict))
			if got := harness.Reply(r.Err); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("reply %q, want prefix %q", got, tc.want)
			}
			if tc.want != "250" {
				qid := e.rec.seen()[len(e.rec.seen())-1].QueueID
				if got := harness.Reply(r.Err); !strings.HasSuffix(got, "(ref "+qid+")") {
					t.Errorf("reply %q does not end with the queue id %s", got, qid)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // a discarded message would have arrived by now
	if n := len(e.sink.Messages()); n != 0 {
		t.Errorf("sink received %d messages; reject, tempfail and discard deliver none", n)
	}
}

func TestMilterDownPostfixTempfails(t *testing.T) {
	t.Parallel()
	harness.Require(t, "postfix")
	sink := harness.StartSink(t)
	// Nothing listens there: milter_default_action = tempfail decides. A
	// socket that does not exist, not a port picked free, which another
	// process may take before Postfix connects.
	pf := harness.StartPostfix(t, harness.MTAConfig{
		Milter:    "unix:" + filepath.Join(harness.Dir(t, "nomilter"), "none.sock"),
		RelayPort: sink.Port,
		Users:     map[string]string{user: pass},
	})
	// Postfix answers AUTH with 454 too; mynetworks lets this client relay.
	c := harness.Dial(t, pf.Addr(), "", "")
	r := c.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "down", "body"))
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1") {
		t.Fatalf("with the milter down Postfix said %q, want 451 4.7.1", got)
	}
}

func TestProgressKeepsPostfixWaiting(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{
		main:     map[string]string{"milter_content_timeout": "2s"},
		progress: 500 * time.Millisecond,
	})
	e.rec.sleep = 4 * time.Second
	c := harness.Dial(t, e.pf.Addr(), user, pass)
	r := c.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "slow", "body"))
	if r.Err != nil {
		t.Fatalf("a 4 s check with a 2 s content timeout: %s", harness.Reply(r.Err))
	}
	e.sink.Wait(t, 1, 10*time.Second)
}

func TestLargeMessageSpoolsToDiskIntact(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{spoolLimit: 64 << 10})
	body := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\n", 40000) // ~2.7 MB
	c := harness.Dial(t, e.pf.Addr(), user, pass)
	if r := c.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "big", body)); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	raw := e.rec.raw[0]
	hdr, got, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok || !strings.Contains(hdr, "Subject: big\r\n") {
		t.Fatalf("spooled header block malformed: %q", hdr)
	}
	if want := strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"; got != want {
		t.Errorf("spooled body: %d bytes, want %d identical bytes", len(got), len(want))
	}
}

// The spool fails in the middle of the headers, or of the body (its
// directory is a file, so the part past spool.memory_limit cannot be
// written): the client gets a tempfail and nothing is delivered. Over a
// unix socket the MTA does not wait for an answer to each header and body
// chunk (SMFIP_NR_HDR, SMFIP_NR_BODY), so the failure is answered at the end
// of the headers or of the message; over TCP at once.
func TestSpoolFailureTempfails(t *testing.T) {
	t.Parallel()
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, nil, 0o600)
	for _, inet := range []bool{false, true} {
		for _, c := range []struct {
			where string
			limit int64
		}{{"headers", 16}, {"body", 400}} {
			t.Run(fmt.Sprintf("%s/inet=%v", c.where, inet), func(t *testing.T) {
				t.Parallel()
				e := startEnv(t, envOpts{inet: inet, spoolLimit: c.limit, spoolDir: notADir})
				r := harness.Dial(t, e.pf.Addr(), user, pass).Send("alice@customer.test", []string{"x@remote.test"},
					harness.Msg("alice@customer.test", "x@remote.test", "spool", strings.Repeat("a line of the body\n", 100)))
				if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.") {
					t.Fatalf("reply %q, want a tempfail", got)
				}
				if !strings.Contains(e.log.String(), "spool: ") {
					t.Errorf("the audit line does not say the spool failed:\n%s", e.log.String())
				}
				time.Sleep(300 * time.Millisecond)
				if n := len(e.sink.Messages()); n != 0 {
					t.Errorf("%d messages delivered", n)
				}
			})
		}
	}
}

func TestUnauthenticatedFromUntrustedClient(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOpts{checks: []policy.Entry{{
		Check:   &policy.Unauthenticated{Action: policy.Reject}, // no trusted networks: loopback is untrusted
		OnError: policy.Tempfail,
	}}})
	anon := harness.Dial(t, e.pf.Addr(), "", "")
	r := anon.Send("spam@customer.test", []string{"x@remote.test"}, harness.Msg("spam@customer.test", "x@remote.test", "anon", "body"))
	if got := harness.Reply(r.Err); got != "530 5.7.0 Authentication required to send mail through this server" {
		t.Errorf("unauthenticated MAIL: %q", got)
	}
	if !strings.Contains(e.log.String(), "verdict=reject check=unauthenticated") {
		t.Errorf("no audit line for the MAIL-stage reject:\n%s", e.log.String())
	}
	authed := harness.Dial(t, e.pf.Addr(), user, pass)
	if r := authed.Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "authed", "body")); r.Err != nil {
		t.Errorf("authenticated: %s", harness.Reply(r.Err))
	}
}

// A client whose only recipient Postfix refuses gives up: the transaction
// ends without a message, and still has its one verdict line.
func TestAbortedSessionThroughPostfix(t *testing.T) {
	t.Parallel()
	s, _, _ := harness.ConfigStack(t, "", harness.MTAConfig{RcptAccess: map[string]string{"gone@remote.test": "REJECT 5.1.1 no such user"}})
	c := s.Dial(t).Raw()
	if err := c.Mail("alice@customer.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("gone@remote.test", nil); err == nil {
		t.Fatal("Postfix accepted the refused recipient")
	}
	c.Quit()
	for range 200 {
		if strings.Contains(s.Log.String(), "verdict=aborted") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Count(s.Log.String(), "msg=verdict"); got != 1 || !strings.Contains(s.Log.String(), "from=alice@customer.test rcpts=0 rejected_rcpts=1") || !strings.Contains(s.Log.String(), "verdict=aborted") {
		t.Errorf("%d verdict lines, want one aborted:\n%s", got, s.Log.String())
	}
}
