package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Unbound is Debian's unbound serving test zones on a loopback port,
// from its own config in a temporary directory: a real resolver for the
// DNSBL watch, never a public list.
type Unbound struct {
	Addr string // 127.0.0.1:port, UDP and TCP
	Conf string // its config: unbound-control -c Conf
	stop func()
}

// UnboundConfig is what a test's unbound serves.
type UnboundConfig struct {
	// Static local zones (name: its resource records, in zone-file syntax
	// with absolute owner names): a name in a zone without records is
	// NXDOMAIN, as a DNSBL answers for an address it does not list.
	Zones map[string][]string
	// Response policy zone files, as an ISP's resolver loads relayprobe's.
	RPZ []string
	// Where every other name is forwarded (IP@port, a loopback server of
	// the test's); "": a loopback port where nothing listens. Never the
	// Internet.
	Forward string
	// Control turns on unbound-control over a unix socket of the
	// server's own (Unbound.Conf names it): e.g. auth_zone_reload.
	Control bool
}

// StartUnbound runs unbound with c; it is stopped by PID at cleanup, or by
// Stop.
func StartUnbound(t T, c UnboundConfig) *Unbound {
	t.Helper()
	Require(t, "unbound")
	d := Dir(t, "unbound")
	// The config names the port: it is written for each one tried.
	conf := filepath.Join(d, "unbound.conf")
	logf := filepath.Join(d, "unbound.log")
	lf, err := os.Create(logf)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { lf.Close() })
	var cmd *exec.Cmd
	port := onFreePort(t, "unbound", func(port int) daemon {
		writeUnboundConf(t, conf, d, port, c)
		cmd = exec.Command("unbound", "-d", "-c", conf)
		cmd.Stdout, cmd.Stderr = lf, lf
		return startDaemon(t, cmd, logf)
	})
	return &Unbound{Addr: fmt.Sprintf("127.0.0.1:%d", port), Conf: conf, stop: func() {
		StopPID(cmd.Process.Pid, 5*time.Second)
		// A stopped resolver is a test's down address: no pick by
		// another test's daemon returns the port (its UDP side is not
		// held: a query there would be received and never answered,
		// not refused; a UDP pick on it is left to chance).
		_, hold := reserve(t, port)
		t.Cleanup(hold)
	}}
}

// writeUnboundConf writes unbound's config for c, listening on port, to
// conf, and checks it.
func writeUnboundConf(t T, conf, d string, port int, c UnboundConfig) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  interface: 127.0.0.1\n  port: %d\n  do-ip6: no\n  so-reuseport: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"+
		"  directory: %q\n  pidfile: %q\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  access-control: 127.0.0.0/8 allow\n"+
		"  module-config: \"respip iterator\"\n  ratelimit: 0\n  ip-ratelimit: 0\n  do-not-query-localhost: no\n", port, d, filepath.Join(d, "unbound.pid"))
	for zone, rrs := range c.Zones {
		fmt.Fprintf(&b, "  local-zone: %q static\n", zone)
		for _, rr := range rrs {
			if strings.Contains(rr, `"`) {
				// A TXT record's strings (a DKIM key is several):
				// unbound.conf has no escapes in "…", but takes '…'.
				fmt.Fprintf(&b, "  local-data: '%s'\n", rr)
				continue
			}
			fmt.Fprintf(&b, "  local-data: %q\n", rr)
		}
	}
	for i, f := range c.RPZ {
		fmt.Fprintf(&b, "rpz:\n  name: \"rpz%d.test.\"\n  zonefile: %q\n", i, f)
	}
	if c.Forward == "" {
		c.Forward = "127.0.0.1@1"
	}
	fmt.Fprintf(&b, "forward-zone:\n  name: \".\"\n  forward-addr: %s\n", c.Forward)
	if c.Control {
		fmt.Fprintf(&b, "remote-control:\n  control-enable: yes\n  control-interface: %q\n  control-use-cert: no\n", filepath.Join(d, "control.sock"))
	} else {
		b.WriteString("remote-control:\n  control-enable: no\n")
	}
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	if out, err := exec.Command("unbound-checkconf", conf).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v: %s", err, out)
	}
}

// Stop stops the server now: its port then answers nothing for the rest
// of the test (reserve).
func (u *Unbound) Stop() { u.stop() }
