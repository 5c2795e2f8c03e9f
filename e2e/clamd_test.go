package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/quarantine"
)

// stack runs Postfix with milterd's pipeline built from a config.
func stack(t *testing.T, section string) *harness.Stack {
	t.Helper()
	s, _, _ := harness.ConfigStack(t, section, harness.MTAConfig{})
	return s
}

func clamdConfig(socket string, extra ...string) string {
	return fmt.Sprintf("clamd:\n  addresses: [unix:%s]\n  reply_timeout: 30s\n%s", socket, strings.Join(extra, ""))
}

// mime builds a multipart/mixed message with a text part and base64
// attachments.
func mime(subject string, attachments map[string][]byte) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fmt.Fprintf(&b, "From: <alice@customer.test>\r\nTo: <x@remote.test>\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n", subject, mw.Boundary())
	w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain"}})
	io.WriteString(w, "Please see the attachment.\r\n")
	for name, data := range attachments {
		w, _ := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {"application/octet-stream; name=\"" + name + "\""},
			"Content-Disposition":       {"attachment; filename=\"" + name + "\""},
			"Content-Transfer-Encoding": {"base64"},
		})
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			io.WriteString(w, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		io.WriteString(w, enc+"\r\n")
	}
	mw.Close()
	return b.Bytes()
}

func zipOf(name string, data []byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create(name)
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

func plain(subject, body string, headers ...string) []byte {
	return []byte("From: <alice@customer.test>\r\nTo: <x@remote.test>\r\nSubject: " + subject + "\r\n" + strings.Join(headers, "") + "\r\n" + body)
}

func send(t *testing.T, s *harness.Stack, msg io.Reader) harness.Result {
	c := s.Dial(t)
	defer c.Quit()
	return c.SendFrom("alice@customer.test", []string{"x@remote.test"}, msg)
}

// Both ways to clamd: the descriptor handed over at end-of-message (the
// default with a unix socket: clamd's reply names "fd[N]") and the stream
// while the message arrives.
func TestMalwareRejectedThroughPostfix(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct{ passing, reply string }{{"true", "fd["}, {"false", "stream: "}} {
		t.Run("fd_passing "+mode.passing, func(t *testing.T) {
			t.Parallel()
			malwareRejected(t, "  fd_passing: "+mode.passing+"\n", mode.reply)
		})
	}
}

func malwareRejected(t *testing.T, passing, reply string) {
	cd := harness.StartClamd(t, "30M")
	s := stack(t, clamdConfig(cd.Socket, "  max_stream: 30MiB\n", passing))
	qp := eicar[:30] + "=\r\n" + eicar[30:] // a soft line break: only a decoder sees EICAR
	cases := map[string][]byte{
		"eicar plain":             plain("plain", eicar+"\r\n"),
		"eicar quoted-printable":  plain("qp", qp+"\r\n", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n"),
		"eicar base64 attachment": mime("b64", map[string][]byte{"eicar.com": []byte(eicar)}),
		"eicar in zip":            mime("zip", map[string][]byte{"eicar.zip": zipOf("eicar.com", []byte(eicar))}),
		"eicar in zip in zip":     mime("zipzip", map[string][]byte{"outer.zip": zipOf("inner.zip", zipOf("eicar.com", []byte(eicar)))}),
	}
	// clamav-testfiles samples: archives, packed PE, documents, mail formats.
	for _, f := range []string{"clam.exe", "clam.zip", "clam.7z", "clam.tar.gz", "clam.exe.bz2", "clam-upx.exe", "clam-aspack.exe", "clam.cab", "clam.exe.mbox.base64", "clam.ole.doc", "clam.pdf"} {
		data, err := os.ReadFile("/usr/share/clamav-testfiles/" + f)
		if err != nil {
			t.Fatalf("%v (apt-get install clamav-testfiles)", err)
		}
		cases["testfile "+f] = mime(f, map[string][]byte{f: data})
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			r := send(t, s, bytes.NewReader(msg))
			got := harness.Reply(r.Err)
			if !strings.HasPrefix(got, "550 5.7.1 Message contains malware (") || strings.Contains(got, "UNOFFICIAL") {
				t.Fatalf("reply %q", got)
			}
			if !strings.Contains(got, "(Eicar-Test-Signature)") && !strings.Contains(got, "(Clamav.Test.File-6)") {
				t.Errorf("reply does not name the signature: %q", got)
			}
		})
	}
	if n := strings.Count(s.Log.String(), `reason="clamd: `+reply); n != len(cases) || !strings.Contains(s.Log.String(), ".UNOFFICIAL FOUND") {
		t.Errorf("%d of %d audit lines have clamd's full reply starting %q", n, len(cases), reply)
	}
	if n := len(s.Sink.Messages()); n != 0 {
		t.Errorf("%d infected messages delivered", n)
	}
}

func TestCleanMessagesAcceptedAndStamped(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s := stack(t, "header: {detail: full}\n"+clamdConfig(cd.Socket, "  max_stream: 30MiB\n"))
	for i, size := range []int{1 << 10, 1 << 20, 20 << 20} {
		body := make([]byte, size*3/4) // base64 makes it size bytes
		rand.Read(body)                // fresh payloads: clamd caches clean results
		msg := mime(fmt.Sprintf("clean %d", size), map[string][]byte{"data.bin": body})
		if r := send(t, s, bytes.NewReader(msg)); r.Err != nil {
			t.Fatalf("clean %d bytes: %s", size, harness.Reply(r.Err))
		}
		got := s.Sink.Wait(t, i+1, 30*time.Second)[i]
		if !bytes.Contains(got.Data, []byte("X-Outguard: clean, milterd ")) || !bytes.Contains(got.Data, []byte("; clamd ClamAV ")) {
			t.Errorf("clean %d bytes: stamp lacks the clamd version:\n%s", size, got.Data[:min(600, len(got.Data))])
		}
	}
}

func TestClamdDownTempfails(t *testing.T) {
	t.Parallel()
	s := stack(t, clamdConfig("/nonexistent/clamd.sock"))
	r := send(t, s, bytes.NewReader(plain("down", "hello\r\n")))
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1 Temporary failure in outbound message checks") {
		t.Fatalf("clamd down: %q", got)
	}
}

func TestClamdDownAcceptWhenConfigured(t *testing.T) {
	t.Parallel()
	s := stack(t, "header: {detail: full}\n"+clamdConfig("/nonexistent/clamd.sock", "  on_error: accept\n"))
	if r := send(t, s, bytes.NewReader(plain("down", "hello\r\n"))); r.Err != nil {
		t.Fatalf("on_error accept: %s", harness.Reply(r.Err))
	}
	got := s.Sink.Wait(t, 1, 10*time.Second)[0]
	if !bytes.Contains(got.Data, []byte("clamd: not checked")) {
		t.Errorf("accepted unscanned without saying so:\n%s", got.Data)
	}
}

// pausing yields first, then waits for resume before yielding rest.
type pausing struct {
	first, rest io.Reader
	paused      chan struct{}
	resume      chan struct{}
	once        sync.Once
}

func (p *pausing) Read(b []byte) (int, error) {
	n, err := p.first.Read(b)
	if err == io.EOF {
		p.once.Do(func() {
			close(p.paused)
			<-p.resume
		})
		return p.rest.Read(b)
	}
	return n, err
}

func TestClamdDiesMidStreamTempfails(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s := stack(t, clamdConfig(cd.Socket, "  max_stream: 30MiB\n  fd_passing: false\n"))
	big := make([]byte, 15<<20)
	rand.Read(big)
	msg := mime("dies", map[string][]byte{"big.bin": big}) // 20 MiB encoded
	half := len(msg) / 2
	p := &pausing{first: bytes.NewReader(msg[:half]), rest: bytes.NewReader(msg[half:]), paused: make(chan struct{}), resume: make(chan struct{})}
	go func() {
		<-p.paused
		time.Sleep(500 * time.Millisecond) // Postfix passes what it has to milterd
		cd.Kill()
		close(p.resume)
	}()
	start := time.Now()
	r := send(t, s, p)
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1") {
		t.Fatalf("clamd killed mid-stream: %q", got)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestHungClamdTempfailsWithinTimeout(t *testing.T) {
	t.Parallel()
	s := stack(t, fmt.Sprintf("clamd:\n  addresses: [unix:%s]\n  reply_timeout: 1s\n", harness.SilentClamd(t)))
	start := time.Now()
	r := send(t, s, bytes.NewReader(plain("hung", "hello\r\n")))
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1") {
		t.Fatalf("hung clamd: %q", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("hung clamd held the message %v", d)
	}
}

// A real clamd that hangs (stopped: it accepts connections and answers
// nothing) with a long reply_timeout: message_timeout ends the wait, the
// check gets its on_error, and the verdict line names the check and why.
func TestMessageTimeoutEndsAHungClamd(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s := stack(t, "message_timeout: 2s\nclamd:\n  addresses: [unix:"+cd.Socket+"]\n  reply_timeout: 60s\n")
	cd.Pause()
	r := send(t, s, bytes.NewReader(plain("hung", "hello\r\n")))
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1 Temporary failure") {
		t.Fatalf("hung clamd: %q", got)
	}
	if log := s.Log.String(); !regexp.MustCompile(`verdict=tempfail check=clamd reason="clamd failed: [^"]*message_timeout \(2s\) passed" notes="clamd ClamAV `).MatchString(log) {
		t.Errorf("the verdict line does not name the timed-out check, or clamd's version:\n%s", log)
	}
}

// The clamd version is in every verdict line, those of messages clamd
// never saw too: refused at MAIL (a limit), and aborted by the client.
// Before: only the messages clamd answered for had it.
func TestVersionInEveryVerdictLine(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s := stack(t, clamdConfig(cd.Socket)+"limits:\n  default: {messages_per_hour: 1}\n")
	c := s.Dial(t)
	if err := c.Raw().Mail("alice@customer.test", nil); err != nil {
		t.Fatal(err)
	}
	c.Raw().Reset()
	c.Quit()
	for i := range 2 {
		if r := send(t, s, bytes.NewReader(plain(fmt.Sprint("m", i), "hello\r\n"))); (r.Err == nil) != (i == 0) {
			t.Fatalf("message %d: %s", i, harness.Reply(r.Err))
		}
	}
	want := map[string]*regexp.Regexp{
		"accepted":          regexp.MustCompile(`verdict=accept .*notes="clamd ClamAV [^"]+"`),
		"refused at MAIL":   regexp.MustCompile(`verdict=tempfail check=limits .*notes="clamd ClamAV [^"]+"`),
		"aborted by client": regexp.MustCompile(`verdict=aborted .*notes="clamd ClamAV [^"]+"`),
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		log := s.Log.String()
		missing := ""
		for name, re := range want {
			if !re.MatchString(log) {
				missing = name
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no verdict line %s with clamd's version:\n%s", missing, log)
		}
	}
}

// The same hung clamd with on_error: accept, and the limits counting the
// message: message_timeout ends the wait and the message is accepted,
// stamped as not scanned, and counted; the commit has a deadline of its
// own. Before: the commit ran with the expired message deadline, the
// limits failed, and every message was tempfailed with the verdict line
// blaming limits.
func TestMessageTimeoutOnErrorAccept(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s := stack(t, "message_timeout: 2s\nclamd:\n  addresses: [unix:"+cd.Socket+"]\n  reply_timeout: 60s\n  on_error: accept\nlimits:\n  store: sqlite\n")
	cd.Pause()
	r := send(t, s, bytes.NewReader(plain("hung", "hello\r\n")))
	if r.Err != nil {
		t.Fatalf("hung clamd with on_error: accept: %s\n%s", harness.Reply(r.Err), s.Log.String())
	}
	got := s.Sink.Wait(t, 1, 20*time.Second)[0]
	if !bytes.Contains(got.Data, []byte("X-Outguard: accepted, not fully checked")) {
		t.Errorf("accepted unscanned without saying so:\n%s", got.Data)
	}
	if log := s.Log.String(); !regexp.MustCompile(`verdict=accept .*notes="[^"]*clamd: not checked`).MatchString(log) || strings.Contains(log, "limits failed") {
		t.Errorf("the verdict line:\n%s", log)
	}
}

// One clamd connection for five sessions at once: every session is
// answered (the version is fetched in the background, never while a
// message holds the one connection), and each verdict line names the
// clamd version.
func TestOneConnectionManySessions(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s := stack(t, clamdConfig(cd.Socket, "  max_connections: 1\n"))
	var wg sync.WaitGroup
	replies := make([]string, 5)
	for i := range replies {
		wg.Go(func() {
			body := "hello\r\n"
			if i == 0 {
				body = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*` + "\r\n"
			}
			replies[i] = harness.Reply(send(t, s, bytes.NewReader(plain(fmt.Sprint("s", i), body))).Err)
		})
	}
	wg.Wait()
	for i, r := range replies {
		if want := map[bool]string{true: "550 5.7.1", false: "250"}[i == 0]; !strings.HasPrefix(r, want) {
			t.Errorf("session %d: %q, want %s", i, r, want)
		}
	}
	if n := strings.Count(s.Log.String(), `notes="clamd ClamAV `); n != 5 {
		t.Errorf("%d of 5 verdict lines name the clamd version:\n%s", n, s.Log.String())
	}
}

// Over the scan limit: clamd's StreamMaxLength below ours when streaming,
// our max_stream when passing the descriptor (clamd does not apply
// StreamMaxLength to FILDES: the message is streamed up to max_stream).
func TestOversize(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "2M")
	big := make([]byte, 3<<20)
	rand.Read(big)
	msg := mime("big", map[string][]byte{"big.bin": big})
	for name, limit := range map[string]string{"clamd's StreamMaxLength": "  fd_passing: false\n", "max_stream": "  max_stream: 2MiB\n"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			accept := stack(t, clamdConfig(cd.Socket, limit))
			if r := send(t, accept, bytes.NewReader(msg)); r.Err != nil {
				t.Fatalf("oversize accept: %s", harness.Reply(r.Err))
			}
			got := accept.Sink.Wait(t, 1, 30*time.Second)[0]
			if !bytes.Contains(got.Data, []byte("X-Outguard: accepted, not fully checked")) {
				t.Errorf("oversize passed without saying so:\n%s", got.Data[:min(len(got.Data), 500)])
			}
			if !strings.Contains(accept.Log.String(), "not scanned") {
				t.Errorf("oversize not in the audit line")
			}

			reject := stack(t, clamdConfig(cd.Socket, limit, "  oversize: reject\n"))
			r := send(t, reject, bytes.NewReader(msg))
			if got := harness.Reply(r.Err); !strings.HasPrefix(got, "552 5.3.4 Message too large to be scanned for malware") {
				t.Fatalf("oversize reject: %q", got)
			}
		})
	}
}

func TestMalwareQuarantined(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	s, cfg, res := harness.ConfigStack(t, clamdConfig(cd.Socket, "  on_virus: quarantine\nquarantine: {}\n"), harness.MTAConfig{})
	if r := send(t, s, bytes.NewReader(mime("held", map[string][]byte{"eicar.com": []byte(eicar)}))); r.Err != nil {
		t.Fatalf("quarantined virus: the client gets 250, got %s", harness.Reply(r.Err))
	}
	recs, err := res.Quarantine.List(context.Background(), quarantine.Filter{})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Reason, "Eicar-Test-Signature") || recs[0].Findings[0].Engine != "clamd" {
		t.Fatalf("quarantine %+v %v (dir %s)", recs, err, cfg.QuarantineDir())
	}
	time.Sleep(300 * time.Millisecond)
	if len(s.Sink.Messages()) != 0 {
		t.Error("quarantined virus delivered")
	}
}
