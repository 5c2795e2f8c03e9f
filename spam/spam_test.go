package spam_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/policy"
	"outguard/spam"
)

// GTUBE is the pattern rspamd rejects (its reject GTUBE).
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

func tx(id, body string) *policy.Transaction {
	msg := strings.ReplaceAll(harness.Msg("alice@customer.test", "x@remote.test", "hello "+id, body), "\n", "\r\n")
	return &policy.Transaction{
		ID: id, QueueID: "Q" + id, User: "alice", From: "alice@customer.test", Rcpts: []string{"x@remote.test", "y@remote.test"},
		Conn:    policy.Conn{Addr: netip.MustParseAddr("127.0.0.7"), Name: "unknown", Helo: "client.test"},
		Message: bytes.NewReader([]byte(msg)),
	}
}

// raw is a transaction of a message with the given Message-ID and Date
// lines (CRLF), for a score rspamd's stock rules make predictable.
func raw(id, lines string) *policy.Transaction {
	t := tx(id, "")
	t.Message = bytes.NewReader([]byte("From: <alice@customer.test>\r\nTo: <x@remote.test>\r\nSubject: lunch\r\n" + lines + "\r\nHi Bob, lunch tomorrow?\r\n"))
	return t
}

// counter records what the check counted; err is returned to it.
type counter struct {
	mu      sync.Mutex
	counted []string
	err     error
}

func (c *counter) CountSpam(_ context.Context, t *policy.Transaction, detail string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counted = append(c.counted, t.ID+" "+detail)
	return c.err
}

func defaults() map[string]policy.Action {
	return map[string]policy.Action{"reject": policy.Reject, "soft reject": policy.Tempfail, "rewrite subject": policy.Quarantine,
		"add header": policy.Accept, "greylist": policy.Accept, "no action": policy.Accept}
}

func newCheck(url string, c spam.Counter, actions map[string]policy.Action, timeout time.Duration) *spam.Check {
	return spam.New(spam.Options{URL: url, Timeout: timeout, Actions: actions, Counter: c, Log: slog.New(slog.DiscardHandler)})
}

// Against Debian's rspamd with its stock rules, and thresholds low enough
// for small test messages to get each action: a well-formed message none
// (-0.1), one whose Message-ID is not a domain's add header (0.4), one
// without a Date too rewrite subject (1.4); GTUBE is reject.
func TestRspamd(t *testing.T) {
	rs := harness.StartRspamd(t, map[string]string{"local.d/actions.conf": "add_header = 0.3;\nrewrite_subject = 1.2;\n"})
	ctx := context.Background()
	// a Date of now: rspamd's DATE_IN_PAST (1.0) fires a day after a
	// fixed one, and the clean message was add header from then on
	now := time.Now().UTC().Format(time.RFC1123Z)

	t.Run("gtube rejected and counted", func(t *testing.T) {
		c := &counter{}
		tr := tx("g1", GTUBE)
		v, err := newCheck(rs.URL, c, defaults(), 20*time.Second).CheckMessage(ctx, tr)
		if err != nil || v.Action != policy.Reject || v.Code != 550 || !strings.HasPrefix(v.Reason, "spam: rspamd reject 15.00/15.00") {
			t.Fatalf("verdict %+v %v", v, err)
		}
		if len(c.counted) != 1 || c.counted[0] != "g1 rspamd reject 15.00/15.00" {
			t.Errorf("counted %v", c.counted)
		}
		if st := tr.Stamps(); len(st) != 1 || st[0] != "rspamd reject 15.00/15.00" {
			t.Errorf("notes %v", st)
		}
		// rspamd got the envelope and the login: its log line names them.
		waitLog(t, rs.Log, "Qg1")
		log, _ := os.ReadFile(rs.Log)
		for _, want := range []string{"qid: <Qg1>", "ip: 127.0.0.7", "user: alice", "from: <alice@customer.test>", "rcpts: <x@remote.test,y@remote.test>"} {
			if !bytes.Contains(log, []byte(want)) {
				t.Errorf("rspamd's log has no %q", want)
			}
		}
	})

	t.Run("clean accepted, not counted", func(t *testing.T) {
		c := &counter{}
		tr := raw("c1", "Message-ID: <c1@client.example.net>\r\nDate: "+now+"\r\n")
		v, err := newCheck(rs.URL, c, defaults(), 20*time.Second).CheckMessage(ctx, tr)
		if err != nil || v.Action != policy.Accept || len(c.counted) != 0 {
			t.Fatalf("verdict %+v %v, counted %v", v, err, c.counted)
		}
		if st := tr.Stamps(); len(st) != 1 || !strings.HasPrefix(st[0], "rspamd no action ") {
			t.Errorf("notes %v", st)
		}
	})

	t.Run("add header accepted and counted", func(t *testing.T) {
		c := &counter{}
		tr := raw("a1", "Message-ID: <a1@client>\r\nDate: "+now+"\r\n")
		v, err := newCheck(rs.URL, c, defaults(), 20*time.Second).CheckMessage(ctx, tr)
		if err != nil || v.Action != policy.Accept || len(c.counted) != 1 || c.counted[0] != "a1 rspamd add header 0.40/15.00" {
			t.Fatalf("verdict %+v %v, counted %v", v, err, c.counted)
		}
	})

	t.Run("rewrite subject quarantined and counted", func(t *testing.T) {
		c := &counter{}
		tr := raw("r1", "Message-ID: <r1@client>\r\n")
		v, err := newCheck(rs.URL, c, defaults(), 20*time.Second).CheckMessage(ctx, tr)
		if err != nil || v.Action != policy.Quarantine || len(v.Findings) != 1 || len(c.counted) != 1 || c.counted[0] != "r1 rspamd rewrite subject 1.40/15.00" {
			t.Fatalf("verdict %+v %v, counted %v", v, err, c.counted)
		}
	})

	t.Run("action map from the config", func(t *testing.T) {
		a := defaults()
		a["reject"] = policy.Quarantine
		v, err := newCheck(rs.URL, nil, a, 20*time.Second).CheckMessage(ctx, tx("g2", GTUBE))
		if err != nil || v.Action != policy.Quarantine || v.Code != 0 || len(v.Findings) != 1 || v.Findings[0].Name != "reject" {
			t.Fatalf("verdict %+v %v", v, err)
		}
		delete(a, "reject")
		if _, err := newCheck(rs.URL, nil, a, 20*time.Second).CheckMessage(ctx, tx("g3", GTUBE)); err == nil || !strings.Contains(err.Error(), `unknown action "reject"`) {
			t.Fatalf("an action the map lacks: %v", err)
		}
	})

	t.Run("count failure", func(t *testing.T) {
		// The message is refused anyway: the verdict stands.
		c := &counter{err: errors.New("store down")}
		if v, err := newCheck(rs.URL, c, defaults(), 20*time.Second).CheckMessage(ctx, tx("g4", GTUBE)); err != nil || v.Action != policy.Reject {
			t.Fatalf("verdict %+v %v", v, err)
		}
		// Classed as spam and accepted (add header): uncounted would pass
		// the limit silently, so it is the check's failure (on_error).
		a := defaults()
		a["reject"] = policy.Accept
		if _, err := newCheck(rs.URL, c, a, 20*time.Second).CheckMessage(ctx, tx("g5", GTUBE)); err == nil || !strings.Contains(err.Error(), "store down") {
			t.Fatalf("uncounted spam accepted: %v", err)
		}
	})

	t.Run("hung rspamd", func(t *testing.T) {
		// Stopped rspamd: the check gives up at its timeout, or at the
		// message deadline when that comes first.
		rs.Pause()
		defer rs.Resume()
		start := time.Now()
		_, err := newCheck(rs.URL, nil, defaults(), time.Second).CheckMessage(ctx, tx("h1", GTUBE))
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Fatalf("hung rspamd: %v after %v", err, time.Since(start))
		}
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if _, err := newCheck(rs.URL, nil, defaults(), time.Minute).CheckMessage(dctx, tx("h2", GTUBE)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("message deadline: %v", err)
		}
	})
}

func waitLog(t *testing.T, path, s string) {
	for i := 0; i < 100; i++ {
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(s)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("rspamd's log never mentions %s", s)
}

// Misbehaviour rspamd does not produce on demand: a server that answers
// forever, or garbage, or nothing, or without an action.
func TestMisbehavingServer(t *testing.T) {
	ctx := context.Background()
	for name, h := range map[string]http.HandlerFunc{
		"drips forever": func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(200)
			for {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(10 * time.Millisecond)
			}
		},
		"endless answer": func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(`{"action":"no action","x":"`))
			for {
				if _, err := w.Write(bytes.Repeat([]byte("a"), 1<<16)); err != nil {
					return
				}
			}
		},
		"not json":  func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) },
		"no action": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"score": 3}`)) },
		"500":       func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) },
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: h}
			go srv.Serve(ln)
			defer srv.Close()
			start := time.Now()
			_, err = newCheck("http://"+ln.Addr().String(), nil, defaults(), 2*time.Second).CheckMessage(ctx, tx("m", "body"))
			if err == nil || time.Since(start) > 5*time.Second {
				t.Fatalf("%v after %v", err, time.Since(start))
			}
			t.Logf("%v", err)
		})
	}
	// No route: nothing listens.
	addr := fmt.Sprintf("127.0.0.1:%d", harness.DownPort(t))
	if _, err := newCheck("http://"+addr, nil, defaults(), 2*time.Second).CheckMessage(ctx, tx("m", "body")); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("nothing listening: %v", err)
	}
}

// rspamd's soft reject (its rate limits, greylisting) and greylist are not
// spam: their verdicts apply (tempfail, accept), nothing is counted. rspamd
// gives them only with its Redis-backed modules, so a server answers them.
func TestDelaysAreNotSpam(t *testing.T) {
	for action, want := range map[string]policy.Action{"soft reject": policy.Tempfail, "greylist": policy.Accept} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(`{"action":"` + action + `","score":5,"required_score":15}`))
		})}
		go srv.Serve(ln)
		c := &counter{}
		v, err := newCheck("http://"+ln.Addr().String(), c, defaults(), 2*time.Second).CheckMessage(context.Background(), tx("d", "body"))
		srv.Close()
		if err != nil || v.Action != want || len(c.counted) != 0 {
			t.Errorf("%s: %+v %v, counted %v", action, v, err, c.counted)
		}
		if want == policy.Tempfail && (v.Code != 451 || !strings.Contains(v.Text, "try again later")) {
			t.Errorf("%s: reply %d %q", action, v.Code, v.Text)
		}
	}
}
