package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Hostname is the test Postfix's $myhostname, also the SASL realm.
const Hostname = "outguard.test"

// MTAConfig describes a test MTA: Postfix, or Sendmail.
type MTAConfig struct {
	Sendmail  bool              // StartStack runs Sendmail instead of Postfix
	Milter    string            // smtpd_milters value; empty for none
	RelayPort int               // where Postfix relays all mail (the sink)
	Users     map[string]string // SASL login -> password
	// RcptAccess maps a recipient to a check_recipient_access action,
	// e.g. "REJECT 5.1.1 no such user" (Postfix access(5)).
	RcptAccess map[string]string
	Main       map[string]string // extra or overriding main.cf settings
	Listen     string            // smtpd's host:port; empty: 127.0.0.1 and a free port
}

// Postfix is a running test Postfix.
type Postfix struct {
	Dir  string
	Host string // smtpd's address
	Port int
	Log  string // maillog_file
}

// Addr is the host:port of its smtpd.
func (p *Postfix) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// StartPostfix configures and starts a Postfix instance of its own.
func StartPostfix(t T, c MTAConfig) *Postfix {
	t.Helper()
	Require(t, "postfix", "saslpasswd2")
	p := &Postfix{Dir: Dir(t, "pf"), Host: "127.0.0.1"}
	if c.Listen != "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			t.Fatalf("postfix listen %q: %v", c.Listen, err)
		}
		p.Host = host
		p.Port, _ = strconv.Atoi(port)
		// Claimed before the stop is registered: cleanups run newest
		// first, and the claim must outlive the Postfix it covers.
		ownAddress(t, c.Listen)
	}
	p.Log = filepath.Join(p.Dir, "maillog")
	if err := p.configure(c); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { p.stop(t) })
	if c.Listen == "" {
		onFreePort(t, "postfix", func(port int) daemon {
			p.Port = port
			if err := p.writeMaster(); err != nil {
				t.Fatalf("%v", err)
			}
			d := daemon{pid: func() int { return pidFile(filepath.Join(p.Dir, "queue/pid/master.pid")) }, log: p.LogText}
			// master -w (postfix start) returns once master has bound its
			// sockets, or failed to.
			if err := run("postfix", "-c", p.Dir, "start"); err != nil {
				exited := make(chan struct{})
				close(exited)
				d.done = exited
			}
			return d
		})
		return p
	}
	if err := p.writeMaster(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := run("postfix", "-c", p.Dir, "start"); err != nil {
		t.Fatalf("%v\n%s", err, p.LogText())
	}
	if err := waitPort(p.Addr(), 10*time.Second); err != nil {
		t.Fatalf("postfix smtpd: %v\n%s", err, p.LogText())
	}
	return p
}

// writeMaster writes master.cf with smtpd on p.Addr().
func (p *Postfix) writeMaster() error {
	master := fmt.Sprintf("%s inet n - n - - smtpd\n", p.Addr()) + masterServices
	return os.WriteFile(filepath.Join(p.Dir, "master.cf"), []byte(master), 0o644)
}

func (p *Postfix) configure(c MTAConfig) error {
	d := p.Dir
	main := map[string]string{
		"compatibility_level":                "3.6",
		"queue_directory":                    d + "/queue",
		"data_directory":                     d + "/data",
		"mail_owner":                         "postfix",
		"setgid_group":                       "postdrop",
		"myhostname":                         Hostname,
		"mydomain":                           Hostname,
		"mydestination":                      "",
		"inet_interfaces":                    "127.0.0.1",
		"inet_protocols":                     "ipv4",
		"mynetworks":                         "127.0.0.0/8",
		"relayhost":                          fmt.Sprintf("[127.0.0.1]:%d", c.RelayPort),
		"maillog_file":                       p.Log,
		"maillog_file_prefixes":              d,
		"smtpd_sasl_auth_enable":             "yes",
		"smtpd_sasl_type":                    "cyrus",
		"smtpd_sasl_path":                    "smtpd",
		"cyrus_sasl_config_path":             d + "/sasl",
		"smtpd_sasl_security_options":        "noanonymous",
		"smtpd_relay_restrictions":           "permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination",
		"smtpd_recipient_restrictions":       "check_recipient_access texthash:" + d + "/rcpt_access",
		"smtpd_milters":                      c.Milter,
		"milter_protocol":                    "6",
		"milter_default_action":              "tempfail",
		"smtp_tls_security_level":            "none",
		"smtpd_tls_security_level":           "none",
		"alias_maps":                         "",
		"alias_database":                     "",
		"local_recipient_maps":               "",
		"biff":                               "no",
		"message_size_limit":                 "104857600",
		"smtpd_client_connection_rate_limit": "0",
		"smtpd_error_sleep_time":             "0",
		"smtpd_soft_error_limit":             "1000",
		"smtpd_hard_error_limit":             "1000",
	}
	if p.Host != "127.0.0.1" {
		// Postfix wants inet_interfaces on a configured interface, which
		// 127.0.0.x is not; master.cf binds the address, and
		// proxy_interfaces makes [127.0.0.x] one of its own.
		main["proxy_interfaces"] = p.Host
	}
	for k, v := range c.Main {
		main[k] = v
	}
	var mainCf bytes.Buffer
	keys := make([]string, 0, len(main))
	for k := range main {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&mainCf, "%s = %s\n", k, main[k])
	}
	var access bytes.Buffer
	for rcpt, action := range c.RcptAccess {
		fmt.Fprintf(&access, "%s %s\n", rcpt, action)
	}
	files := map[string]string{
		"main.cf":         mainCf.String(),
		"rcpt_access":     access.String(),
		"sasl/smtpd.conf": "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: " + d + "/sasldb2\n",
	}
	if err := os.Mkdir(d+"/sasl", 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := os.Mkdir(d+"/queue", 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(d+"/data", 0o700); err != nil {
		return err
	}
	if err := run("chown", "postfix", d+"/data"); err != nil {
		return err
	}
	for user, pass := range c.Users {
		cmd := exec.Command("saslpasswd2", "-p", "-c", "-f", d+"/sasldb2", "-u", Hostname, user)
		cmd.Stdin = strings.NewReader(pass)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("saslpasswd2: %v: %s", err, out)
		}
	}
	if len(c.Users) > 0 {
		// smtpd runs as postfix and must read the database, nobody else.
		if err := run("chown", "root:postfix", d+"/sasldb2"); err != nil {
			return err
		}
		if err := os.Chmod(d+"/sasldb2", 0o640); err != nil {
			return err
		}
	}
	return nil
}

// Every service runs unchrooted: the config dir is not under the spool.
const masterServices = `pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
tlsmgr unix - - n 1000? 1 tlsmgr
postlog unix-dgram n - n - 1 postlogd
`

// LogText returns the maillog so far, for failure messages.
func (p *Postfix) LogText() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// stop ends the master process by PID: SIGTERM, then SIGKILL.
func (p *Postfix) stop(t T) {
	b, err := os.ReadFile(filepath.Join(p.Dir, "queue/pid/master.pid"))
	if err != nil {
		t.Logf("postfix: no master.pid: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return
	}
	StopPID(pid, 10*time.Second)
}

// StopPID sends SIGTERM, waits up to grace for the process to go, then
// sends SIGKILL.
func StopPID(pid int, grace time.Duration) {
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}
