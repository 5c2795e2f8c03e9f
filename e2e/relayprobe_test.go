package e2e

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"outguard/internal/harness"
	"outguard/probe"
)

// The relayprobe tests' loopback addresses: 127.0.26.0/24, the canary on .1.
const rpCanary = "127.0.26.1:2525"

// relayprobeBin builds cmd/relayprobe for the test, or takes the binary
// named by $RELAYPROBE_BIN (to run these tests against another version).
func relayprobeBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("RELAYPROBE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "relayprobe")
	if out, err := exec.Command("go", "build", "-o", bin, "outguard/cmd/relayprobe").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// rpConfig writes a relayprobe config for a scan with a local canary on
// rpCanary, the state in dir, and extra YAML lines at the end (timeouts
// there replace the short ones here).
func rpConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "relayprobe.yaml")
	if !strings.Contains(extra, "timeouts:") {
		extra += "\ntimeouts: {connect: 2s, reply: 3s}"
	}
	yaml := fmt.Sprintf(`canary: {listen: %q, address: %q, domain: canary.test, wait: 8s}
ports: {smtp: [2525], proxy: [3128], telnet: [2323]}
rate: 500
helo: probe.isp.test
state_dir: %s
reporter: {org: ISP Test, contact: abuse@isp.test, domain: isp.test}
%s
`, rpCanary, rpCanary, dir, extra)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rp runs the binary to its end and returns its exit status and output.
func rp(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", bin, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func findings(t *testing.T, jsonLines string) map[string]probe.OpenService {
	t.Helper()
	got := map[string]probe.OpenService{}
	for _, l := range strings.Split(strings.TrimSpace(jsonLines), "\n") {
		if l == "" {
			continue
		}
		var f probe.OpenService
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		got[f.Target] = f
		t.Logf("%s %s %s %s: %s", f.Target, f.Service, f.Result, f.Test, f.Evidence)
	}
	return got
}

// lastScan reads the newest scan file of the state directory.
func lastScan(t *testing.T, dir string) probe.Scan {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "scans", "*.json"))
	if len(names) == 0 {
		t.Fatal("no scan kept")
	}
	b, err := os.ReadFile(names[len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	var sc probe.Scan
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

// A scan whose source address the host does not have, or whose source is
// of the other family than the targets, cannot reach anything: it must
// not read as "everything closed". Before, -check-config accepted the
// source, the scan exited 0 with nothing found, and diff said the open
// Wingates were fixed.
func TestRelayprobeUnusableSource(t *testing.T) {
	bin := relayprobeBin(t)
	wingate := harness.StartWingate(t, "127.0.26.2:2323")
	harness.StartWingate(t, "[::1]:2323")
	dir := t.TempDir()

	// A healthy scan finds both Wingates (IPv6 with the system's choice of
	// source address).
	cfg := rpConfig(t, dir, "")
	code, out, errs := rp(t, bin, "scan", "-config", cfg, "-json", "127.0.26.2", "::1")
	if got := findings(t, out); code != 1 || got["127.0.26.2:2323"].Result != probe.Confirmed || got["[::1]:2323"].Result != probe.Confirmed {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}

	// 198.51.100.7 is no address of this host: binding it fails, and no
	// packet leaves the machine.
	bad := rpConfig(t, dir, "source: 198.51.100.7")
	if code, _, errs := rp(t, bin, "-check-config", "-config", bad); code != 2 || !strings.Contains(errs, "source 198.51.100.7") {
		t.Errorf("-check-config with a source the host lacks: exit %d, %q; want 2 naming the source", code, errs)
	}
	code, out, errs = rp(t, bin, "scan", "-config", bad, "-json", "127.0.26.2")
	if code != 3 || !strings.Contains(errs, "unhealthy") || !strings.Contains(errs, "198.51.100.7") {
		t.Errorf("scan from an unusable source: exit %d, want 3 (unhealthy)\n%s%s", code, out, errs)
	}
	fixed := regexp.MustCompile(`(?m)^fixed`)
	if code, out, _ := rp(t, bin, "diff", "-config", bad); fixed.MatchString(out) || !strings.Contains(out, "unhealthy") {
		t.Errorf("diff after the unusable source: exit %d\n%s", code, out)
	}

	// An IPv4 source with an IPv6 target.
	v4 := rpConfig(t, dir, "source: 127.0.0.1")
	code, out, errs = rp(t, bin, "scan", "-config", v4, "-json", "::1")
	if code != 3 || !strings.Contains(errs, "cannot reach IPv6 targets") {
		t.Errorf("IPv4 source, IPv6 target: exit %d, want 3\n%s%s", code, out, errs)
	}
	if sc := lastScan(t, dir); sc.Counts[probe.Unreachable] != 3 || sc.Healthy() {
		t.Errorf("IPv4 source, IPv6 target: counts %v, problems %q; want 3 unreachable and unhealthy", sc.Counts, sc.Problems)
	}
	if _, out, _ := rp(t, bin, "diff", "-config", v4); fixed.MatchString(out) {
		t.Errorf("diff after the IPv4 source scanned IPv6:\n%s", out)
	}

	// A healthy scan of another address changes nothing; once the Wingate
	// is closed for real, a healthy scan of it says fixed.
	code, out, errs = rp(t, bin, "scan", "-config", cfg, "-json", "127.0.26.3")
	if code != 0 {
		t.Fatalf("scan of an empty address: exit %d\n%s%s", code, out, errs)
	}
	if _, out, _ := rp(t, bin, "diff", "-config", cfg); out != "no change\n" {
		t.Errorf("a scan of another address changed the known state:\n%s", out)
	}
	wingate.Close()
	if code, out, errs = rp(t, bin, "scan", "-config", cfg, "-json", "127.0.26.2"); code != 0 {
		t.Fatalf("scan of the closed Wingate: exit %d\n%s%s", code, out, errs)
	}
	if _, out, _ := rp(t, bin, "diff", "-config", cfg); out != "fixed  127.0.26.2:2323 wingate (was confirmed)\n" {
		t.Errorf("diff after the Wingate was closed:\n%s", out)
	}
}

// A scan that cannot reach its own canary, or whose targets all stop
// answering (a firewall that drops, a lost uplink: here a tarpit where a
// Wingate was), is unhealthy and declares nothing fixed. Before, the
// tarpit's silence read as "fixed".
func TestRelayprobeUnhealthyNetwork(t *testing.T) {
	bin := relayprobeBin(t)
	dir := t.TempDir()
	cfg := rpConfig(t, dir, "")
	wingate := harness.StartWingate(t, "127.0.26.11:2323")
	if code, out, errs := rp(t, bin, "scan", "-config", cfg, "-json", "127.0.26.11"); code != 1 || findings(t, out)["127.0.26.11:2323"].Result != probe.Confirmed {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	wingate.Close()
	for _, port := range []string{"2525", "3128", "2323"} {
		harness.Serve(t, "127.0.26.11:"+port, func(c net.Conn) { time.Sleep(time.Minute) })
	}
	alert := filepath.Join(dir, "alert.json")
	cfg = rpConfig(t, dir, fmt.Sprintf(`alert: {command: [sh, -c, 'cat > "$0"', %q]}`, alert))
	code, out, errs := rp(t, bin, "scan", "-config", cfg, "-json", "127.0.26.11")
	if code != 3 || !strings.Contains(errs, "3 of 3 targets unreachable") {
		t.Errorf("every target silent: exit %d, want 3\n%s%s", code, out, errs)
	}
	var a struct {
		Healthy  bool
		Fixed    []probe.OpenService
		Problems []string
	}
	if b, err := os.ReadFile(alert); err != nil || json.Unmarshal(b, &a) != nil || a.Healthy || len(a.Fixed) != 0 || len(a.Problems) == 0 {
		t.Errorf("alert of the unhealthy scan: %s %v", b, err)
	}
	if _, out, _ := rp(t, bin, "diff", "-config", cfg); regexp.MustCompile(`(?m)^fixed`).MatchString(out) {
		t.Errorf("diff after every target went silent:\n%s", out)
	}

	// The canary's address is not where it listens: unreachable from the
	// scanner, so from the customers too.
	lost := rpConfig(t, dir, "")
	b, _ := os.ReadFile(lost)
	os.WriteFile(lost, bytes.Replace(b, []byte(`address: "`+rpCanary+`"`), []byte(`address: "127.0.26.12:2525"`), 1), 0o644)
	code, out, errs = rp(t, bin, "scan", "-config", lost, "-json", "127.0.26.13")
	if code != 3 || !strings.Contains(errs, "canary is not reachable") {
		t.Errorf("canary unreachable: exit %d, want 3\n%s%s", code, out, errs)
	}
}

// A proxy that answers "HTTP/1.1 200" and then drips a header line a
// second forever, and a relay that defers every recipient (the scan then
// waits greylist_retry, an hour here): SIGTERM ends the scan within
// seconds, and nothing is kept (no scan file, no temporary file). Before,
// the scan read the header lines past every timeout and two SIGTERMs.
func TestRelayprobeSIGTERMDrippingProxy(t *testing.T) {
	bin := relayprobeBin(t)
	var deferred atomic.Int32
	harness.Serve(t, "127.0.26.3:2525", func(c net.Conn) {
		r := bufio.NewReader(c)
		io.WriteString(c, "220 defer.test ESMTP\r\n")
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(l, "RCPT") {
				deferred.Add(1)
				io.WriteString(c, "450 4.7.1 try again later\r\n")
			} else {
				io.WriteString(c, "250 ok\r\n")
			}
		}
	})
	dripping := make(chan struct{}, 16)
	harness.Serve(t, "127.0.26.3:3128", func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(c, "X-Drip: %d\r\n", i); err != nil {
				return
			}
			if i == 3 {
				dripping <- struct{}{}
			}
			time.Sleep(time.Second)
		}
	})
	dir := t.TempDir()
	cfg := rpConfig(t, dir, "greylist_retry: 1h\ntimeouts: {connect: 2s, reply: 3s, scan: 2h}")
	cmd := exec.Command(bin, "scan", "-config", cfg, "127.0.26.3")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			harness.StopPID(cmd.Process.Pid, time.Second)
		}
	})
	select {
	case <-dripping:
	case err := <-done:
		t.Fatalf("relayprobe ended before the proxy dripped: %v\n%s", err, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the dripping proxy was never asked\n%s", errb.String())
	}
	for deferred.Load() < 16 { // every relay form deferred: the scan waits greylist_retry
		time.Sleep(50 * time.Millisecond)
	}
	term := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		t.Logf("relayprobe ended %v after SIGTERM", time.Since(term))
	case <-time.After(5 * time.Second):
		t.Fatalf("relayprobe still running 5 s after SIGTERM\n%s", errb.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d after SIGTERM, want 2\n%s", code, errb.String())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "scans", "*"))
	if len(left) != 0 {
		t.Errorf("a scan ended by SIGTERM left %v", left)
	}
}

// The misses of the issue, each a server as found in the field: a
// STARTTLS-only Postfix (smtpd_tls_security_level = encrypt), a Postfix
// that defers relaying (4xx for ever), a Wingate that takes 1.5 s to
// connect, and a server with a multi-line greeting that relays only to
// recipients at its own name. Before, none of them was reported.
func TestRelayprobeMisses(t *testing.T) {
	harness.Require(t, "postfix")
	bin := relayprobeBin(t)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir, "tls.relay.test")
	relay := map[string]string{"relayhost": "[127.0.26.1]:2525", "smtpd_banner": "$myhostname ESMTP"}
	with := func(m map[string]string) map[string]string {
		for k, v := range relay {
			m[k] = v
		}
		return m
	}
	tlsRelay := harness.StartPostfix(t, harness.MTAConfig{Listen: "127.0.26.6:2525", Main: with(map[string]string{
		"myhostname": "tls.relay.test", "mynetworks": "127.0.0.0/8",
		"smtpd_tls_security_level": "encrypt", "smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key})})
	harness.StartPostfix(t, harness.MTAConfig{Listen: "127.0.26.5:2525", Main: with(map[string]string{
		"myhostname": "defer.relay.test", "mynetworks": "127.0.0.250/32",
		"smtpd_relay_restrictions": "defer_unauth_destination"})})
	harness.Serve(t, "127.0.26.7:2323", slowWingate)
	var data atomic.Int32
	harness.Serve(t, "127.0.26.8:2525", func(c net.Conn) { multiLineGreeting(c, &data) })

	code, out, errs := rp(t, bin, "scan", "-config", rpConfig(t, dir, "greylist_retry: 2s"), "-json", "127.0.26.5", "127.0.26.6", "127.0.26.7", "127.0.26.8")
	got := findings(t, out)
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, errs)
	}
	if f := got["127.0.26.6:2525"]; f.Result != probe.Confirmed || !strings.Contains(f.Evidence, "inside TLS") || !strings.Contains(f.Evidence, "certificate not verified") {
		t.Errorf("STARTTLS-only Postfix: %+v\n%s\n%s", f, tlsRelay.LogText(), errs)
	}
	if f := got["127.0.26.5:2525"]; f.Result != probe.Suspected || !strings.Contains(f.Evidence, "still deferred") || !regexp.MustCompile(`: 45\d `).MatchString(f.Evidence) {
		t.Errorf("deferring Postfix: %+v, want suspected with its 4xx reply", f)
	}
	if f := got["127.0.26.7:2323"]; f.Result != probe.Confirmed || f.Service != "wingate" {
		t.Errorf("slow Wingate: %+v", f)
	}
	f := got["127.0.26.8:2525"]
	if f.Result != probe.Suspected || f.Test != "percent hack at the name" || !strings.Contains(f.Evidence, "@mx.multi.test>") {
		t.Errorf("multi-line greeting: %+v, want the percent hack at the server's name from the first greeting line", f)
	}
	// Every form was tried; the message was sent once.
	if !strings.Contains(f.Evidence, "also accepted: double at, name, source route via the name, bang path at the name") || data.Load() != 1 {
		t.Errorf("multi-line greeting: %d DATA, evidence %q; want 1 DATA and the other forms at the name", data.Load(), f.Evidence)
	}
}

// A relay that greylists (RFC 6647): 450 for a new sender, recipient and
// client, accepted when asked again a while later; it then relays to the
// canary. Before, 4xx was taken as a refusal and the relay was not found.
func TestRelayprobeGreylistingRelay(t *testing.T) {
	bin := relayprobeBin(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.26.4:2525")
	if err != nil {
		t.Fatal(err)
	}
	gl := &greylister{seen: map[string]time.Time{}}
	srv := gosmtp.NewServer(gl)
	srv.Domain = "grey.relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	code, out, errs := rp(t, bin, "scan", "-config", rpConfig(t, dir, "greylist_retry: 2s"), "-json", "127.0.26.4")
	f := findings(t, out)["127.0.26.4:2525"]
	if code != 1 || f.Result != probe.Confirmed || f.Test != "null sender" || !strings.HasPrefix(f.Evidence, "greylisted (450 4.7.1 greylisted, try again later), accepted 2s later; ") {
		t.Errorf("greylisting relay: exit %d, %+v\n%s", code, f, errs)
	}
	gl.mu.Lock()
	defer gl.mu.Unlock()
	if gl.deferred == 0 || gl.relayed != 1 {
		t.Errorf("greylister deferred %d and relayed %d, want some and 1", gl.deferred, gl.relayed)
	}
}

// greylister is a go-smtp backend that defers each new triplet once and
// relays accepted mail to the canary.
type greylister struct {
	mu                sync.Mutex
	seen              map[string]time.Time
	deferred, relayed int
}

func (g *greylister) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	host, _, _ := net.SplitHostPort(c.Conn().RemoteAddr().String())
	return &greySession{g: g, client: host}, nil
}

type greySession struct {
	g            *greylister
	client, from string
	to           []string
}

func (s *greySession) Mail(from string, _ *gosmtp.MailOptions) error { s.from = from; return nil }
func (s *greySession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	k := s.client + " " + s.from + " " + to
	if first, ok := s.g.seen[k]; !ok || time.Since(first) < time.Second {
		if !ok {
			s.g.seen[k] = time.Now()
		}
		s.g.deferred++
		return &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *greySession) Data(r io.Reader) error {
	msg, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	tok := regexp.MustCompile(`rp[0-9a-f]{32}`).FindString(strings.Join(s.to, " "))
	if err := smtp.SendMail(rpCanary, nil, "grey@grey.relay.test", []string{tok + "@canary.test"},
		append([]byte("Received: from probe.isp.test by grey.relay.test; Mon, 30 Nov 2026 09:00:00 +0000\r\n"), msg...)); err != nil {
		return err
	}
	s.g.mu.Lock()
	s.g.relayed++
	s.g.mu.Unlock()
	return nil
}
func (s *greySession) Reset()        { s.from, s.to = "", nil }
func (s *greySession) Logout() error { return nil }

// slowWingate takes 1.5 s to connect after saying so: a pause is not the
// end of what it says.
func slowWingate(c net.Conn) {
	io.WriteString(c, "WinGate>")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	io.WriteString(c, "Connecting to "+strings.TrimSpace(line)+" ...\r\n")
	time.Sleep(1500 * time.Millisecond)
	up, err := net.DialTimeout("tcp", strings.TrimSpace(line), 5*time.Second)
	if err != nil {
		io.WriteString(c, "connection failed\r\n")
		return
	}
	defer up.Close()
	go io.Copy(up, c)
	io.Copy(c, up)
}

// multiLineGreeting is an SMTP server whose greeting has three lines and
// that accepts only recipients at its own name (mx.multi.test), without
// delivering; it counts DATA.
func multiLineGreeting(c net.Conn, data *atomic.Int32) {
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	io.WriteString(c, "220-mx.multi.test ESMTP\r\n220-No UCE\r\n220 ready\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			io.WriteString(c, "250-mx.multi.test\r\n250 8BITMIME\r\n")
		case "RCPT":
			if strings.Contains(arg, "@mx.multi.test") {
				io.WriteString(c, "250 2.1.5 Ok\r\n")
			} else {
				io.WriteString(c, "550 5.7.1 relaying denied\r\n")
			}
		case "DATA":
			data.Add(1)
			io.WriteString(c, "354 go ahead\r\n")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			io.WriteString(c, "250 2.0.0 queued\r\n")
		case "QUIT":
			io.WriteString(c, "221 bye\r\n")
			return
		default:
			io.WriteString(c, "250 Ok\r\n")
		}
	}
}

// selfSigned writes a self-signed certificate and key for name into dir.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return certFile, keyFile
}

// The canary as run on the Internet (relayprobe canary), flooded: more
// sessions than it takes at once, messages with megabytes of Received
// continuation lines, thousands of forged tokens and one real token sent
// over and over. It stays bounded: counted sessions, refused messages,
// its peak memory, arrivals kept. Its banner never shows the secret (the
// API's bearer token). Before: every session was taken, the Received
// header grew without limit (quadratic CPU, memory per session), forged
// tokens were kept for ever, and the banner showed the secret.
func TestRelayprobeCanaryFlood(t *testing.T) {
	bin := relayprobeBin(t)
	dir := t.TempDir()
	const smtpAddr, apiAddr, secret = "127.0.26.9:2525", "127.0.26.9:8025", "flood-test-secret-0123456789"
	cfg := filepath.Join(dir, "canary.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`canary: {listen: %q, api_listen: %q, address: %q, domain: canary.test, secret: %q}
helo: probe.isp.test
state_dir: %s
`, smtpAddr, apiAddr, smtpAddr, secret, dir)), 0o644)
	cmd := exec.Command(bin, "canary", "-config", cfg)
	var logb bytes.Buffer
	cmd.Stderr = &logb
	harness.Start(t, cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", smtpAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("canary did not listen\n%s", logb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	greet := func() (net.Conn, *bufio.Reader, string) {
		c, err := net.Dial("tcp", smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		l, _ := r.ReadString('\n')
		return c, r, l
	}

	// The banner proves the canary without showing the secret.
	c, _, banner := greet()
	c.Close()
	if strings.Contains(banner, secret) || !strings.HasPrefix(banner, "220 ") {
		t.Errorf("banner %q shows the secret", banner)
	}

	// Sessions at once: 400 connections, held open.
	var conns []net.Conn
	taken, busy := 0, 0
	for range 400 {
		c, _, l := greet()
		conns = append(conns, c)
		switch {
		case strings.HasPrefix(l, "220 "):
			taken++
		case strings.HasPrefix(l, "421 "):
			busy++
		}
	}
	for _, c := range conns {
		c.Close()
	}
	t.Logf("400 sessions at once: %d taken, %d told 421", taken, busy)
	if taken > 256 || taken+busy != 400 {
		t.Errorf("400 sessions at once: %d taken, %d told 421; want at most 256 taken, the rest 421", taken, busy)
	}
	time.Sleep(500 * time.Millisecond) // the held sessions end

	// 16 messages at once, each with 6 MB of Received continuation lines:
	// none is taken.
	line := "\t" + strings.Repeat("x", 4000) + "\r\n"
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, r, _ := greet()
			defer c.Close()
			io.WriteString(c, "EHLO flood\r\nMAIL FROM:<>\r\nRCPT TO:<x@canary.test>\r\nDATA\r\n")
			for l, err := r.ReadString('\n'); !strings.HasPrefix(l, "354"); l, err = r.ReadString('\n') {
				if err != nil {
					return
				}
			}
			io.WriteString(c, "Received: from flood\r\n")
			for range 6 << 20 / len(line) {
				if _, err := io.WriteString(c, line); err != nil {
					return // the canary hung up: refused
				}
			}
			io.WriteString(c, "\r\n.\r\n")
			if l, _ := r.ReadString('\n'); strings.HasPrefix(l, "250") {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d of 16 messages with a 6 MB header accepted", n)
	}
	rss := harness.PeakRSS(cmd.Process.Pid)
	t.Logf("16 messages of 6 MB header: %d accepted; canary peak RSS %.1f MiB", accepted.Load(), rss)
	if rss > 96 {
		t.Errorf("canary peak RSS %.0f MiB after the flood, want at most 96", rss)
	}

	// Forged tokens are not kept; a real one at most 8 times.
	key := probe.Key(secret)
	real := key.NewToken()
	forged := make([]string, 2000)
	for i := range forged {
		forged[i] = probe.Key("not the secret").NewToken()
	}
	c, r, _ := greet()
	var cmds bytes.Buffer
	for i := range forged {
		fmt.Fprintf(&cmds, "RCPT TO:<%s@canary.test>\r\n", forged[i])
		if i < 20 {
			fmt.Fprintf(&cmds, "EHLO %s\r\n", real)
		}
	}
	cmds.WriteString("QUIT\r\n")
	go c.Write(cmds.Bytes())
	io.Copy(io.Discard, r) // until the canary hangs up: all was read
	c.Close()
	arrivals := func(tok string) int {
		req, _ := http.NewRequest("GET", "http://"+apiAddr+"/arrivals?token="+tok, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a []probe.Arrival
		json.NewDecoder(resp.Body).Decode(&a)
		return len(a)
	}
	if n := arrivals(real); n < 1 || n > 8 {
		t.Errorf("a real token sent 20 times: %d arrivals kept, want 1 to 8", n)
	}
	for _, tok := range forged[:20] {
		if n := arrivals(tok); n != 0 {
			t.Errorf("forged token %s: %d arrivals kept", tok, n)
			break
		}
	}
}

// A damaged or empty scan file (a crash of an older version, a full disk)
// is skipped with a warning; scans and diff go on. Before, it stopped
// every later scan and diff.
func TestRelayprobeDamagedStateFile(t *testing.T) {
	bin := relayprobeBin(t)
	harness.StartWingate(t, "127.0.26.10:2323")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "scans"), 0o750)
	os.WriteFile(filepath.Join(dir, "scans", "20990101T000000.000Z.json"), nil, 0o640)
	os.WriteFile(filepath.Join(dir, "scans", "20990101T000001.000Z.json"), []byte(`{"started":"2099-01-01T00:00:01Z","findings":[{"tar`), 0o640)
	cfg := rpConfig(t, dir, "")
	code, out, errs := rp(t, bin, "scan", "-config", cfg, "-json", "127.0.26.10")
	if code != 1 || findings(t, out)["127.0.26.10:2323"].Result != probe.Confirmed || !strings.Contains(errs, "skipped") {
		t.Errorf("scan beside damaged files: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = rp(t, bin, "diff", "-config", cfg)
	if code != 0 || !strings.Contains(out, "new    127.0.26.10:2323 wingate confirmed") {
		t.Errorf("diff beside damaged files: exit %d\n%s%s", code, out, errs)
	}
}

// A scanner with an external canary (relayprobe canary on another host):
// the proof in the banner is checked with the shared secret, the API asked
// with it. With another secret, the scanner cannot tell its canary: the
// scan is unhealthy, and nothing is confirmed.
func TestRelayprobeExternalCanary(t *testing.T) {
	bin := relayprobeBin(t)
	dir := t.TempDir()
	const smtpAddr, apiAddr, secret = "127.0.26.14:2525", "127.0.26.14:8025", "external-canary-secret-42"
	canaryCfg := filepath.Join(dir, "canary.yaml")
	os.WriteFile(canaryCfg, []byte(fmt.Sprintf(`canary: {listen: %q, api_listen: %q, address: %q, domain: canary.test, secret: %q}
helo: probe.isp.test
state_dir: %s
`, smtpAddr, apiAddr, smtpAddr, secret, dir)), 0o644)
	harness.Start(t, exec.Command(bin, "canary", "-config", canaryCfg))
	harness.StartWingate(t, "127.0.26.15:2323")
	scanCfg := func(secret string) string {
		cfg := filepath.Join(dir, "scan-"+secret+".yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`canary: {listen: "", api: "http://%s", address: %q, domain: canary.test, secret: %q, wait: 2s}
ports: {smtp: [2525], proxy: [3128], telnet: [2323]}
timeouts: {connect: 2s, reply: 3s}
helo: probe.isp.test
state_dir: %s
`, apiAddr, smtpAddr, secret, dir)), 0o644)
		return cfg
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", apiAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("canary API did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errs := rp(t, bin, "scan", "-config", scanCfg(secret), "-json", "127.0.26.15")
	if f := findings(t, out)["127.0.26.15:2323"]; code != 1 || f.Result != probe.Confirmed {
		t.Errorf("external canary: exit %d, %+v\n%s", code, f, errs)
	}
	code, out, errs = rp(t, bin, "scan", "-config", scanCfg("not-the-secret"), "-json", "127.0.26.15")
	if f := findings(t, out)["127.0.26.15:2323"]; code != 3 || f.Result == probe.Confirmed || !strings.Contains(errs, "not our canary") {
		t.Errorf("external canary, wrong secret: exit %d, %+v\n%s", code, f, errs)
	}
}
