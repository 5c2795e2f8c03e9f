package milter_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"outguard/internal/harness"
	"outguard/milter"
	"outguard/policy"
)

// startMilter serves a milter with the recorder check on a unix socket and
// returns the socket path.
func startMilter(t *testing.T, rec *recorder, log *harness.LogBuffer) string {
	t.Helper()
	lg := harness.Logger(t, log)
	srv := milter.New(lg, &milter.State{
		Pipeline:         policy.NewPipeline(lg, policy.Entry{Check: rec, OnError: policy.Tempfail}),
		HeaderName:       "X-Outguard",
		HeaderFull:       true,
		Version:          "unit",
		SpoolDir:         t.TempDir(),
		SpoolLimit:       16,
		ProgressInterval: time.Second,
	})
	path := filepath.Join(t.TempDir(), "m.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

// ok fails the test on a milter client error and returns the action.
func ok(t *testing.T) func(*gomilter.Action, error) *gomilter.Action {
	return func(a *gomilter.Action, err error) *gomilter.Action {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

func session(t *testing.T, c *gomilter.Client, macros *gomilter.MacroBag) *gomilter.ClientSession {
	t.Helper()
	s, err := c.Session(macros)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTransactionFromMacros drives the milter as an MTA would, with the
// macros Postfix sends at each stage, and two messages on one connection.
func TestTransactionFromMacros(t *testing.T) {
	rec := &recorder{}
	path := startMilter(t, rec, &harness.LogBuffer{})
	macros := gomilter.NewMacroBag()
	s := session(t, gomilter.NewClient("unix", path), macros)
	must := ok(t)

	macros.Set(gomilter.MacroClientAddr, "192.0.2.7")
	macros.Set(gomilter.MacroClientName, "dsl-7.example.net")
	macros.Set(gomilter.MacroDaemonName, "submission")
	macros.Set(gomilter.MacroMTAFQDN, "smarthost.example.net")
	must(s.Conn("dsl-7.example.net", gomilter.FamilyInet, 40000, "192.0.2.7"))
	must(s.Helo("pc.example.net"))

	for i, m := range []struct{ user, qid, from string }{
		{"bob@example.net", "QID1", "bob@example.net"},
		{"bob@example.net", "QID2", "bob+2@example.net"},
	} {
		macros.Set(gomilter.MacroAuthAuthen, m.user)
		macros.Set(gomilter.MacroAuthType, "PLAIN")
		must(s.Mail(m.from, ""))
		macros.Set(gomilter.MacroRcptMailer, "smtp")
		macros.Set(gomilter.MacroRcptHost, "remote.test")
		macros.Set(gomilter.MacroRcptAddr, "ok@remote.test")
		if act := must(s.Rcpt("ok@remote.test", "")); act.StopProcessing() {
			t.Fatalf("accepted recipient refused: %+v", act)
		}
		// SMFIP_RCPT_REJ: a recipient Postfix refused itself.
		macros.Set(gomilter.MacroRcptMailer, "error")
		macros.Set(gomilter.MacroRcptHost, "5.1.1")
		macros.Set(gomilter.MacroRcptAddr, "<gone@remote.test>: Recipient address rejected: no such user")
		must(s.Rcpt("gone@remote.test", ""))
		must(s.DataStart())
		must(s.HeaderField("Subject", " test "+m.qid, nil))
		must(s.HeaderField("X-Folded", " a\n\tb", nil))
		macros.Set(gomilter.MacroQueueId, m.qid)
		must(s.HeaderEnd())
		must(s.BodyChunk([]byte("line one\r\n")))
		must(s.BodyChunk([]byte("line two\r\n")))
		mods, act := must2(t)(s.End())
		if act.Type != gomilter.ActionAccept {
			t.Fatalf("message %d: %+v", i, act)
		}
		if len(mods) != 1 || mods[0].Type != gomilter.ActionAddHeader || mods[0].HeaderName != "X-Outguard" || mods[0].HeaderValue != " clean, milterd unit" {
			t.Errorf("message %d: modifications %+v, want the stamp", i, mods)
		}
	}

	txs := rec.seen()
	if len(txs) != 2 {
		t.Fatalf("saw %d transactions, want 2", len(txs))
	}
	for i, tx := range txs {
		if tx.Conn.Addr.String() != "192.0.2.7" || tx.Conn.Name != "dsl-7.example.net" || tx.Conn.Helo != "pc.example.net" || tx.Conn.Daemon != "submission" {
			t.Errorf("tx %d: connection %+v", i, tx.Conn)
		}
		if tx.User != "bob@example.net" || tx.AuthType != "PLAIN" {
			t.Errorf("tx %d: user %q auth %q", i, tx.User, tx.AuthType)
		}
		if len(tx.Rcpts) != 1 || tx.Rcpts[0] != "ok@remote.test" {
			t.Errorf("tx %d: rcpts %q", i, tx.Rcpts)
		}
		if len(tx.Rejected) != 1 || tx.Rejected[0].Addr != "gone@remote.test" || tx.Rejected[0].Status != "5.1.1" || !tx.Rejected[0].Permanent() || !strings.Contains(tx.Rejected[0].Text, "no such user") {
			t.Errorf("tx %d: rejected %+v", i, tx.Rejected)
		}
		if len(tx.Headers) != 2 || tx.Headers[0].Value != "test "+tx.QueueID {
			t.Errorf("tx %d: headers %+v", i, tx.Headers)
		}
	}
	if txs[0].QueueID != "QID1" || txs[1].QueueID != "QID2" || txs[1].From != "bob+2@example.net" {
		t.Errorf("queue ids %q %q, from %q", txs[0].QueueID, txs[1].QueueID, txs[1].From)
	}
	// The spool (16 bytes in memory, then disk) holds the message as sent:
	// the leading space kept, folded lines with CRLF.
	want := "Subject: test QID1\r\nX-Folded: a\r\n\tb\r\n\r\nline one\r\nline two\r\n"
	if rec.raw[0] != want {
		t.Errorf("spooled message\n%q\nwant\n%q", rec.raw[0], want)
	}
}

func must2(t *testing.T) func([]gomilter.ModifyAction, *gomilter.Action, error) ([]gomilter.ModifyAction, *gomilter.Action) {
	return func(m []gomilter.ModifyAction, a *gomilter.Action, err error) ([]gomilter.ModifyAction, *gomilter.Action) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m, a
	}
}

// TestOlderMTADegrades negotiates as an MTA offering protocol v2 without
// SMFIP_RCPT_REJ or macro requests: the milter must still work, and warn.
func TestOlderMTADegrades(t *testing.T) {
	rec := &recorder{}
	log := &harness.LogBuffer{}
	path := startMilter(t, rec, log)
	macros := gomilter.NewMacroBag()
	c := gomilter.NewClient("unix", path, gomilter.WithMaximumVersion(2), gomilter.WithActions(gomilter.OptAddHeader), gomilter.WithProtocols(0))
	s := session(t, c, macros)
	must := ok(t)
	must(s.Conn("host", gomilter.FamilyInet, 1, "198.51.100.1"))
	must(s.Helo("old.example"))
	must(s.Mail("a@example.net", ""))
	must(s.Rcpt("b@remote.test", ""))
	must(s.DataStart())
	must(s.HeaderField("Subject", "old", nil))
	must(s.HeaderEnd())
	must(s.BodyChunk([]byte("body\r\n")))
	mods, act := must2(t)(s.End())
	if act.Type != gomilter.ActionAccept || len(mods) != 1 || mods[0].HeaderValue != "clean, milterd unit" {
		t.Fatalf("v2 MTA: %+v %+v", act, mods)
	}
	for _, w := range []string{"SMFIP_RCPT_REJ", "protocol v6", "SMFIP_HDR_LEADSPC"} {
		if strings.Count(log.String(), w) != 1 {
			t.Errorf("want one warning about %s, log:\n%s", w, log.String())
		}
	}
	if got := rec.raw[0]; got != "Subject: old\r\n\r\nbody\r\n" {
		t.Errorf("spooled %q", got)
	}
}

// An MTA that does not let the milter add headers gets the message
// accepted unstamped, not tempfailed, and one warning at negotiation.
func TestNoAddHeaderPermission(t *testing.T) {
	rec := &recorder{}
	log := &harness.LogBuffer{}
	path := startMilter(t, rec, log)
	c := gomilter.NewClient("unix", path, gomilter.WithActions(0))
	must := ok(t)
	for range 2 {
		s := session(t, c, gomilter.NewMacroBag())
		must(s.Conn("host", gomilter.FamilyInet, 1, "198.51.100.1"))
		must(s.Helo("h"))
		must(s.Mail("a@example.net", ""))
		must(s.Rcpt("b@remote.test", ""))
		must(s.DataStart())
		must(s.HeaderEnd())
		must(s.BodyChunk([]byte("body\r\n")))
		mods, act := must2(t)(s.End())
		if act.Type != gomilter.ActionAccept || len(mods) != 0 {
			t.Fatalf("without add-header permission: %+v %+v", act, mods)
		}
	}
	if n := strings.Count(log.String(), "SMFIF_ADDHDRS"); n != 1 {
		t.Errorf("%d warnings about SMFIF_ADDHDRS, want 1:\n%s", n, log.String())
	}
}

// A transaction the client abandons still gets its one verdict line.
func TestAbortedTransactionAudited(t *testing.T) {
	rec := &recorder{}
	log := &harness.LogBuffer{}
	path := startMilter(t, rec, log)
	s := session(t, gomilter.NewClient("unix", path), gomilter.NewMacroBag())
	must := ok(t)
	must(s.Conn("host", gomilter.FamilyInet, 1, "198.51.100.1"))
	must(s.Helo("h"))
	must(s.Mail("gone@example.net", ""))
	must(s.Rcpt("b@remote.test", ""))
	if err := s.Abort(nil); err != nil {
		t.Fatal(err)
	}
	must(s.Mail("next@example.net", ""))
	s.Close()
	for range 100 {
		if strings.Count(log.String(), "verdict=aborted") == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(log.String(), "msg=verdict"); n != 2 || !strings.Contains(log.String(), "from=gone@example.net rcpts=1") {
		t.Errorf("%d verdict lines, want one per transaction (2 aborted):\n%s", n, log.String())
	}
}
