// Command demo runs outguard for real on loopback: a Postfix with SASL AUTH
// from its own config dir, the milterd binary, and an SMTP sink standing in
// for the Internet. It sends sample messages, prints what happened to each
// as a postmaster would want to read it, and stops everything it started.
//
// Run it with `make demo` (as root on Debian: it installs what is missing).
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"outguard/internal/harness"
)

const (
	user = "alice"
	pass = "demo-password"
)

func main() {
	bin := flag.String("milterd", "bin/milterd", "milterd binary to run")
	flag.Parse()
	d := &demo{Program: harness.Program{Name: "demo"}, bin: *bin}
	defer d.Close()
	d.run(*bin)
}

// demo stops everything it started when it ends or fails.
type demo struct {
	harness.Program
	bin     string
	milterd *logTail
}

func (d *demo) run(bin string) {
	harness.Require(d, "postfix", "saslpasswd2", "clamd", bin)
	dir := harness.Dir(d, "demo")
	clamd := harness.StartClamd(d, "30M")
	sock := filepath.Join(dir, "milterd.sock")
	cfg := filepath.Join(dir, "milterd.yaml")
	// Loopback counts as untrusted here, so that the unauthenticated case
	// shows; a real smarthost lists its customers' static ranges instead.
	config := fmt.Sprintf(`listen: unix:%s
socket_group: postfix
state_dir: %s
unauthenticated: reject
trusted_networks: []
clamd:
  addresses: [unix:%s]
limits:
  contact: abuse@isp.example
`, sock, dir, clamd.Socket)
	sink := harness.StartSink(d)
	// Where the security team releases held mail: a Postfix without milters.
	release := harness.StartPostfix(d, harness.MTAConfig{RelayPort: sink.Port})
	writeFile(d, cfg, config+fmt.Sprintf("quarantine:\n  release_address: %s\nrules:\n  dir: %s\n", release.Addr(), rulesDir()))
	d.milterd = &logTail{}
	harness.StartMilterd(d, bin, cfg, "unix:"+sock, d.milterd)

	pf := harness.StartPostfix(d, harness.MTAConfig{
		Milter:     "unix:" + sock,
		RelayPort:  sink.Port,
		Users:      map[string]string{user: pass},
		RcptAccess: unknownRecipients(),
	})
	version, _ := exec.Command("postconf", "-c", pf.Dir, "-h", "mail_version").Output()
	fmt.Printf("outguard demo\n  Postfix %s smtpd on %s (SASL user %q), milter unix:%s\n  clamd on unix:%s with the test signatures of testdata/clamav\n  Internet stand-in: SMTP sink on 127.0.0.1:%d\n\n",
		strings.TrimSpace(string(version)), pf.Addr(), user, sock, clamd.Socket, sink.Port)

	delivered := 0
	// step sends msg in a session of its own, as the SASL user when login.
	step := func(title string, login bool, from string, rcpts []string, msg string, wantDelivered bool) {
		fmt.Println("▶ " + title)
		mark := d.milterd.Len()
		u, pw := user, pass
		if !login {
			u, pw = "", ""
		}
		c := harness.Dial(d, pf.Addr(), u, pw)
		r := c.Send(from, rcpts, msg)
		c.Quit()
		for rcpt, err := range r.Rcpt {
			fmt.Printf("  RCPT %-24s → %s\n", rcpt, harness.Reply(err))
		}
		fmt.Printf("  SMTP reply to the customer → %s\n", harness.Reply(r.Err))
		if wantDelivered {
			delivered++
			m := sink.Wait(d, delivered, 10*time.Second)[delivered-1]
			fmt.Printf("  Delivered to %s with %s\n", strings.Join(m.Rcpts, ", "), header(m.Data, "X-Outguard"))
		}
		for _, l := range d.milterd.Since(mark, "verdict") {
			fmt.Println("  milterd audit: " + l)
		}
		fmt.Println()
	}

	step("Clean message from an authenticated customer", true, "alice@customer.example", []string{"friend@remote.example"}, harness.Msg("alice@customer.example", "friend@remote.example", "Lunch?", "See you at noon."), true)

	step("Infected attachment (the EICAR test file, base64) from an authenticated customer", true, "alice@customer.example", []string{"friend@remote.example"}, eicarMessage, false)

	step("Credential-phishing page attached (YARA rule html_password_form_offsite: quarantine)", true, "alice@customer.example", []string{"victim@remote.example"}, phishMessage, false)
	fmt.Println("The security team reviews the quarantine:")
	d.ctl(cfg, "quarantine", "list")
	out, _ := exec.Command(filepath.Join(filepath.Dir(d.bin), "milterctl"), "-config", cfg, "quarantine", "list", "--json").Output()
	var held []struct{ ID string }
	json.Unmarshal(out, &held)
	if len(held) != 1 {
		d.Fatalf("expected one quarantined message, got %s", out)
	}
	d.ctl(cfg, "quarantine", "show", held[0].ID)
	d.ctl(cfg, "quarantine", "release", held[0].ID)
	delivered++
	m := sink.Wait(d, delivered, 10*time.Second)[delivered-1]
	fmt.Printf("  Released message delivered to %s\n\n", strings.Join(m.Rcpts, ", "))

	var rcpts []string
	for i := range 10 {
		rcpts = append(rcpts, fmt.Sprintf("nobody%d@remote.example", i))
	}
	step("A compromised account sends to 10 unknown recipients (threshold: 10 an hour)", true, "alice@customer.example", rcpts, harness.Msg("alice@customer.example", "nobody0@remote.example", "Cheap pills", "Buy now."), false)

	step("The same account's next message: suspended, nothing is lost (451)", true, "alice@customer.example", []string{"friend@remote.example"}, harness.Msg("alice@customer.example", "friend@remote.example", "Hello", "Hello again."), false)

	d.ctl(cfg, "accounts", "show", user)
	d.ctl(cfg, "accounts", "unsuspend", user)

	step("After the abuse desk unsuspended the account", true, "alice@customer.example", []string{"friend@remote.example"}, harness.Msg("alice@customer.example", "friend@remote.example", "Sorry", "Cleaned my PC."), true)

	step("No SASL login, client not in trusted_networks (unauthenticated: reject)", false, "boss@customer.example", []string{"victim@remote.example"}, harness.Msg("boss@customer.example", "victim@remote.example", "Invoice", "Pay now."), false)

	fmt.Println("Stopping Postfix, milterd and the sink.")
}

// unknownRecipients are refused by the demo Postfix (check_recipient_access)
// as a real MX would refuse addresses a spammer guessed.
func unknownRecipients() map[string]string {
	m := map[string]string{}
	for i := range 10 {
		a := fmt.Sprintf("nobody%d@remote.example", i)
		m[a] = "REJECT 5.1.1 <" + a + ">: no such user"
	}
	return m
}

// ctl runs milterctl as the abuse desk would and prints its output.
func (d *demo) ctl(cfg string, args ...string) {
	fmt.Printf("$ milterctl %s\n", strings.Join(args, " "))
	out, err := exec.Command(filepath.Join(filepath.Dir(d.bin), "milterctl"), append([]string{"-config", cfg}, args...)...).CombinedOutput()
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Println("  " + l)
	}
	if err != nil {
		d.Fatalf("milterctl: %v", err)
	}
	fmt.Println()
}

// rulesDir is the repository's rules/ folder: the shipped YARA rules.
func rulesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "rules")
}

// phishMessage attaches a page with a password form posting off-site.
var phishMessage = `From: <alice@customer.example>
To: <victim@remote.example>
Subject: Your mailbox is full
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b2"

--b2
Content-Type: text/plain

Log in to keep your mailbox.
--b2
Content-Type: text/html; name="login.html"
Content-Disposition: attachment; filename="login.html"

<html><form method="post" action="https://mail-verify.example.biz/l.php">
<input name="user"><input type="password" name="pass"></form></html>
--b2--
`

// eicarMessage carries the EICAR test string as a base64 attachment.
var eicarMessage = `From: <alice@customer.example>
To: <friend@remote.example>
Subject: Invoice
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

Please find the invoice attached.
--b1
Content-Type: application/octet-stream; name="invoice.com"
Content-Disposition: attachment; filename="invoice.com"
Content-Transfer-Encoding: base64

` + base64.StdEncoding.EncodeToString([]byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)) + `
--b1--
`

func writeFile(d *demo, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		d.Fatalf("%v", err)
	}
}

func header(msg []byte, name string) string {
	m := regexp.MustCompile(`(?m)^` + name + `:.*`).Find(msg)
	if m == nil {
		return "no " + name + " header"
	}
	return `"` + strings.TrimSpace(string(m)) + `"`
}

// logTail keeps milterd's log lines.
type logTail struct {
	mu    sync.Mutex
	lines []string
	part  string
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(l.part + string(p)))
	l.part = ""
	for sc.Scan() {
		l.lines = append(l.lines, sc.Text())
	}
	if !strings.HasSuffix(string(p), "\n") && len(l.lines) > 0 {
		l.part, l.lines = l.lines[len(l.lines)-1], l.lines[:len(l.lines)-1]
	}
	return len(p), nil
}

func (l *logTail) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Since returns the lines after the first n that contain s, waiting
// briefly for milterd to write them.
func (l *logTail) Since(n int, s string) []string {
	var out []string
	for range 50 {
		l.mu.Lock()
		out = out[:0]
		for _, line := range l.lines[n:] {
			if strings.Contains(line, s) {
				out = append(out, line)
			}
		}
		l.mu.Unlock()
		if len(out) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out
}
