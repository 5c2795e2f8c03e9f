package milter_test

import (
	"context"
	"log/slog"
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

// panicky panics at the stage its message's sender names: a stand-in for
// an engine bug, which no real server produces on demand.
type panicky struct{}

func (panicky) Name() string { return "panicky" }

func (panicky) CheckMail(_ context.Context, t *policy.Transaction) (policy.Verdict, error) {
	if strings.HasPrefix(t.From, "mail@") {
		panic("engine bug at MAIL")
	}
	return policy.Verdict{}, nil
}

func (panicky) CheckMessage(_ context.Context, t *policy.Transaction) (policy.Verdict, error) {
	if strings.HasPrefix(t.From, "eom@") {
		panic("engine bug at end of message")
	}
	return policy.Verdict{}, nil
}

type countingObserver struct {
	events chan string
}

func (countingObserver) Session(int)                    {}
func (countingObserver) Verdict(policy.Verdict, int64)  {}
func (countingObserver) Refused(string, policy.Verdict) {}
func (o countingObserver) ConnEvent(ev string)          { o.events <- ev }

// A panic in milterd's code for one connection ends that connection (a
// tempfail where the MTA waits for an answer), is logged and counted, and
// the next connection is served; a panic in an end-of-message check gets
// the check's failure policy.
func TestPanicEndsOnlyItsConnection(t *testing.T) {
	log := &harness.LogBuffer{}
	// Not harness.Logger: the library's warnings go to the first server's
	// logger for the whole process, and must not reach a finished test.
	lg := slog.New(slog.NewTextHandler(log, nil))
	obs := countingObserver{make(chan string, 10)}
	srv := milter.New(lg, &milter.State{
		Pipeline:         policy.NewPipeline(lg, policy.Entry{Check: panicky{}, OnError: policy.Tempfail}),
		Version:          "unit",
		SpoolDir:         t.TempDir(),
		SpoolLimit:       1 << 10,
		ProgressInterval: time.Second,
		MessageTimeout:   10 * time.Second,
		Observer:         obs,
	})
	path := filepath.Join(t.TempDir(), "m.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	s := session(t, gomilter.NewClient("unix", path), gomilter.NewMacroBag())
	ok(t)(s.Conn("h", gomilter.FamilyInet, 1, "127.0.0.1"))
	ok(t)(s.Helo("h"))
	act, err := s.Mail("mail@example.net", "")
	if err == nil && act.Type != gomilter.ActionTempFail {
		t.Fatalf("MAIL that panicked: %+v", act)
	}
	select {
	case ev := <-obs.events:
		if ev != milter.EventPanic {
			t.Fatalf("event %q, want %q", ev, milter.EventPanic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no panic counted")
	}
	if _, err := s.Rcpt("b@remote.test", ""); err == nil {
		t.Fatal("the connection whose MAIL panicked is still open")
	}
	if !strings.Contains(log.String(), "engine bug at MAIL") || !strings.Contains(log.String(), "panic_test.go") {
		t.Errorf("the panic and its stack are not logged:\n%s", log.String())
	}

	s = session(t, gomilter.NewClient("unix", path), gomilter.NewMacroBag())
	ok(t)(s.Conn("h", gomilter.FamilyInet, 1, "127.0.0.1"))
	ok(t)(s.Helo("h"))
	ok(t)(s.Mail("eom@example.net", ""))
	ok(t)(s.Rcpt("b@remote.test", ""))
	ok(t)(s.DataStart())
	ok(t)(s.HeaderEnd())
	ok(t)(s.BodyChunk([]byte("x\r\n")))
	_, act, err = s.End()
	if err != nil || act.Type != gomilter.ActionRejectWithCode || act.SMTPCode/100 != 4 {
		t.Fatalf("message whose check panicked: %v %+v, want the check's failure action, tempfail", err, act)
	}
	if !strings.Contains(log.String(), "check panicked: engine bug at end of message") {
		t.Errorf("the verdict line does not name the panic:\n%s", log.String())
	}
	// The connection goes on.
	ok(t)(s.Mail("fine@example.net", ""))
}
