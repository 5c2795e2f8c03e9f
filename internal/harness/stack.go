package harness

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"outguard/config"
	"outguard/milter"
	"outguard/setup"
)

// Stack is a real MTA wired to an in-process milter, relaying to a sink.
type Stack struct {
	Postfix *Postfix // the MTA: Postfix, or Sendmail with MTAConfig.Sendmail
	Sink    *Sink
	Log     *LogBuffer // the milter's log
	Milter  *milter.Server
}

// StackConfig describes a Stack. State builds the milter state with the
// stack's logger.
type StackConfig struct {
	State   func(log *slog.Logger) *milter.State
	Inet    bool // milter over inet: instead of a unix socket
	Postfix MTAConfig
}

// User and Pass are the SASL login every Stack's Postfix knows; "bob" with
// "secret-bob" is a second one.
const (
	User = "alice"
	Pass = "secret-alice"
)

// StartStack starts the milter, the sink and Postfix.
func StartStack(t T, c StackConfig) *Stack {
	t.Helper()
	s := &Stack{Log: &LogBuffer{}}
	log := Logger(t, s.Log)
	s.Milter = milter.New(log, c.State(log))
	var ln net.Listener
	var err error
	var addr string
	if c.Inet {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			addr = "inet:" + ln.Addr().String()
		}
	} else {
		path := filepath.Join(Dir(t, "m"), "milter.sock")
		ln, err = net.Listen("unix", path)
		os.Chmod(path, 0o666)
		addr = "unix:" + path
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	go s.Milter.Serve(ln)
	t.Cleanup(func() { s.Milter.Close() })
	s.Sink = StartSink(t)
	pc := c.Postfix
	pc.Milter = addr
	if pc.RelayPort == 0 { // else: another receiver, e.g. StartRefusingSink
		pc.RelayPort = s.Sink.Port
	}
	if pc.Users == nil {
		pc.Users = map[string]string{User: Pass, "bob": "secret-bob"}
	}
	if pc.Sendmail {
		s.Postfix = StartSendmail(t, pc)
	} else {
		s.Postfix = StartPostfix(t, pc)
	}
	return s
}

// Dial opens an SMTP session to the stack's Postfix as User.
func (s *Stack) Dial(t T) *Client { return Dial(t, s.Postfix.Addr(), User, Pass) }

// LogBuffer collects log output written from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger logs to buf and to t.Logf (shown when a test fails).
func Logger(t T, buf *LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(buf, logWriter{t}), nil))
}

// logWriter sends log lines to t.Logf, shown when a test fails.
type logWriter struct{ t T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ConfigStack is a Stack whose milter state is built from a milterd config
// (YAML; state_dir defaults to a fresh directory), exactly as milterd
// builds it. The config and the opened resources are returned for the
// test to inspect.
func ConfigStack(t T, yaml string, pc MTAConfig) (*Stack, *config.Config, *setup.Resources) {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte("state_dir: "+Dir(t, "state")+"\n"+yaml))
	if err != nil {
		t.Fatalf("%v", err)
	}
	res, err := setup.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(res.Close)
	if c := setup.Courier(cfg, res.Store, Logger(t, &LogBuffer{})); c != nil {
		// The alerts' outbox is delivered as milterd does, looking often.
		c.Interval = 100 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	s := StartStack(t, StackConfig{
		State: func(log *slog.Logger) *milter.State {
			b, err := setup.Build(cfg, log, res)
			if err != nil {
				t.Fatalf("%v", err)
			}
			return b.State
		},
		Postfix: pc,
	})
	return s, cfg, res
}
