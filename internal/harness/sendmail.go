package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SendmailRoot is where `make deps` unpacks Debian's sendmail packages:
// sendmail-bin conflicts with postfix (both provide mail-transport-agent),
// so the two cannot be installed side by side; sendmail runs from there.
const SendmailRoot = "/opt/outguard-test/sendmail"

// sendmailHost is the test Sendmail's own qualified host name.
const sendmailHost = "mta." + Hostname

// StartSendmail starts a real Sendmail on loopback with SASL AUTH, wired to
// the milter and relaying to RelayPort, as StartPostfix does for Postfix.
//
// Everything it reads comes from the test's directory; nothing of the
// machine's is changed. Before it reads its .cf, Sendmail looks up the host
// name through the C library (/etc/hosts, then DNS) and, when the name it
// gets has no dot, sleeps 60 s to try again (conf.c, myhostname). So it
// runs in a UTS namespace of its own whose host name is 127.0.0.1: an
// address literal, which the C library answers without reading a file or
// asking DNS, and which has dots. Its own name ($j) comes from its .cf. No
// mount namespace is needed: in a chroot, unshare cannot make a root that
// is not a mount point private, and binding over /etc/hosts without that
// would show the bind to the whole machine. Cyrus SASL takes its
// configuration from SASL_CONF_PATH, which Sendmail passes on from an E
// line of its .cf (it clears the environment it was started with).
func StartSendmail(t T, c MTAConfig) *Postfix {
	t.Helper()
	bin := filepath.Join(SendmailRoot, "usr/libexec/sendmail/sendmail")
	Require(t, bin, "m4", "saslpasswd2", "unshare")
	p := &Postfix{Dir: Dir(t, "sm"), Host: "127.0.0.1"}
	d := p.Dir
	sasldb := d + "/sasl/sasldb"
	os.Mkdir(d+"/sasl", 0o755)
	os.WriteFile(d+"/sasl/Sendmail.conf", []byte("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: "+sasldb+"\n"), 0o644)
	os.Mkdir(d+"/queue", 0o700)
	os.WriteFile(d+"/service.switch", []byte("hosts files\naliases files\n"), 0o644)
	os.WriteFile(d+"/hosts", []byte("127.0.0.1 "+sendmailHost+" localhost\n"), 0o644) // its "files" for hosts, once its .cf is read
	var access bytes.Buffer
	for rcpt, action := range c.RcptAccess {
		// Postfix's "REJECT 5.1.1 text" as Sendmail's ERROR:5.1.1:550 text.
		f := strings.Fields(action)
		fmt.Fprintf(&access, "To:%s ERROR:%s:550 %s\n", rcpt, f[1], strings.Join(f[2:], " "))
	}
	milter := c.Milter
	if hp, ok := strings.CutPrefix(milter, "inet:"); ok { // Sendmail spells it inet:PORT@HOST
		i := strings.LastIndexByte(hp, ':')
		milter = "inet:" + hp[i+1:] + "@" + hp[:i]
	}
	for user, pass := range c.Users {
		cmd := exec.Command("saslpasswd2", "-p", "-c", "-f", sasldb, "-u", sendmailHost, user)
		cmd.Stdin = strings.NewReader(pass)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("saslpasswd2: %v: %s", err, out)
		}
	}
	p.Port = onFreePort(t, "sendmail", func(port int) daemon {
		// The port is in the .cf (DAEMON_OPTIONS): it is made for each
		// one tried.
		mc := fmt.Sprintf(sendmailMC, SendmailRoot, d, d, sendmailHost, d, d, d, c.RelayPort, c.RelayPort, d, port, milter, d)
		m4 := exec.Command("m4")
		m4.Stdin = strings.NewReader(mc)
		cf, err := m4.Output()
		if err != nil {
			t.Fatalf("m4: %v", err)
		}
		os.WriteFile(d+"/sendmail.cf", cf, 0o644)
		if err := makemap(d, access.Bytes()); err != nil { // it reads the .cf
			t.Fatalf("%v", err)
		}
		// unshare and sh exec: the PID Start records is Sendmail's own;
		// it logs to syslog only, but says why it cannot start on stderr.
		// Its children too are stopped.
		cmd := exec.Command("unshare", "--uts", "sh", "-c", `hostname 127.0.0.1 && exec "$1" -C "$2/sendmail.cf" -bD`, "sh", bin, d)
		stderr, err := os.OpenFile(d+"/stderr", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatalf("%v", err)
		}
		defer stderr.Close() // the daemon has its own copy
		cmd.Stdout, cmd.Stderr = stderr, stderr
		return startDaemon(t, cmd, d+"/stderr")
	})
	return p
}

// SendmailQueueRun runs the queue of the Sendmail p once, with options
// (-O Timeout.queuereturn=1s to expire what is still deferred), in a UTS
// namespace as StartSendmail runs the daemon.
func SendmailQueueRun(t T, p *Postfix, options ...string) {
	t.Helper()
	bin := filepath.Join(SendmailRoot, "usr/libexec/sendmail/sendmail")
	args := []string{"--uts", "sh", "-c", `hostname 127.0.0.1 && exec "$@"`, "sh", bin, "-C", p.Dir + "/sendmail.cf", "-q"}
	for _, o := range options {
		args = append(args, "-O", o)
	}
	if out, err := exec.Command("unshare", args...).CombinedOutput(); err != nil {
		t.Fatalf("sendmail -q: %v %s", err, out)
	}
}

// makemap builds dir/access.db from entries.
func makemap(dir string, entries []byte) error {
	cmd := exec.Command(filepath.Join(SendmailRoot, "usr/libexec/sendmail/makemap"), "-C", dir+"/sendmail.cf", "hash", dir+"/access")
	cmd.Stdin = bytes.NewReader(entries)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("makemap: %v: %s", err, out)
	}
	return nil
}

// sendmailMC is the test Sendmail: SASL PLAIN, everything relayed to the
// sink, the milter with F=T (tempfail when it is down) and the macros
// milterd needs, the recipients of the access map refused.
const sendmailMC = "divert(-1)\n" +
	"include(`%s/usr/share/sendmail/cf/m4/cf.m4')\n" +
	"divert(0)dnl\n" +
	"OSTYPE(`linux')dnl\n" +
	"define(`confSERVICE_SWITCH_FILE', `%s/service.switch')dnl\n" +
	"define(`confHOSTS_FILE', `%s/hosts')dnl\n" +
	"define(`confDONT_PROBE_INTERFACES', `True')dnl\n" +
	"define(`confDOMAIN_NAME', `%s')dnl\n" +
	"define(`QUEUE_DIR', `%s/queue')dnl\n" +
	"define(`confPID_FILE', `%s/sendmail.pid')dnl\n" +
	"define(`STATUS_FILE', `%s/statistics')dnl\n" +
	"define(`ALIAS_FILE', `')dnl\n" +
	"define(`confRUN_AS_USER', `root:root')dnl\n" +
	"define(`confDONT_BLAME_SENDMAIL', `GroupWritableDirPathSafe,GroupReadableSASLDBFile,TrustStickyBit')dnl\n" +
	"define(`SMART_HOST', `esmtp:[127.0.0.1]')dnl\n" +
	"define(`ESMTP_MAILER_ARGS', `TCP $h %d')dnl\n" +
	"define(`RELAY_MAILER_ARGS', `TCP $h %d')dnl\n" +
	"define(`confAUTH_MECHANISMS', `PLAIN LOGIN')dnl\n" +
	"TRUST_AUTH_MECH(`PLAIN LOGIN')dnl\n" +
	"define(`confAUTH_OPTIONS', `A')dnl\n" +
	"define(`confTO_QUEUEWARN', `')dnl\n" +
	// A loaded test machine must not make Sendmail queue mail instead of
	// delivering it (QueueLA defaults to 8 per CPU), or refuse connections.
	"define(`confQUEUE_LA', `10000')dnl\n" +
	"define(`confREFUSE_LA', `10000')dnl\n" +
	"define(`confDELAY_LA', `10000')dnl\n" +
	"define(`confMILTER_MACROS_CONNECT', `j, _, {daemon_name}, {if_name}, {if_addr}, {client_addr}, {client_name}')dnl\n" +
	"define(`confMILTER_MACROS_ENVFROM', `i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}')dnl\n" +
	"define(`confMILTER_MACROS_ENVRCPT', `{rcpt_mailer}, {rcpt_host}, {rcpt_addr}, i')dnl\n" +
	"define(`confMILTER_MACROS_EOH', `i, {auth_authen}')dnl\n" +
	"define(`confMILTER_MACROS_EOM', `{msg_id}, i, {auth_authen}')dnl\n" +
	"FEATURE(`no_default_msa')dnl\n" +
	"FEATURE(`accept_unresolvable_domains')dnl\n" +
	"FEATURE(`access_db', `hash -o %s/access')dnl\n" +
	"FEATURE(`blocklist_recipients')dnl\n" +
	"DAEMON_OPTIONS(`Port=%d, Addr=127.0.0.1, Name=MTA')dnl\n" +
	"INPUT_MAIL_FILTER(`outguard', `S=%s, F=T, T=C:10s;S:30s;R:60s;E:5m')dnl\n" +
	"MAILER(`smtp')dnl\n" +
	"LOCAL_CONFIG\n" +
	"ESASL_CONF_PATH=%s/sasl\n"
