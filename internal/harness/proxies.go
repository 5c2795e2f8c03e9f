package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The open and closed relays and proxies relayprobe is tested against,
// each on an address of its own (127.0.0.x) and a port given by the test.

// startListening starts cmd (in a process group of its own, stopped by PID
// at cleanup) and waits until addr accepts connections.
func startListening(t T, cmd *exec.Cmd, addr, logFile string) {
	t.Helper()
	ownAddress(t, addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := Start(t, cmd)
	if err := waitPort(addr, 10*time.Second); err != nil {
		select {
		case <-done:
			err = fmt.Errorf("exited")
		default:
		}
		log, _ := os.ReadFile(logFile)
		t.Fatalf("%s did not listen on %s: %v\n%s", cmd.Path, addr, err, log)
	}
}

// StartSMTPSink runs Postfix's smtp-sink on addr: it accepts every
// command and recipient, and discards the mail.
func StartSMTPSink(t T, addr string) {
	t.Helper()
	Require(t, "smtp-sink")
	startListening(t, exec.Command("smtp-sink", "-u", "nobody", "-h", "sink.test", addr, "64"), addr, "")
}

// StartTinyproxy runs tinyproxy on addr allowing CONNECT to connectPorts
// only (requests it forwards go to any port); with none, it refuses port
// 2525 (the lab canary's) by any method: CONNECT, and a URL filter.
func StartTinyproxy(t T, addr string, connectPorts ...int) {
	t.Helper()
	Require(t, "tinyproxy")
	d := Dir(t, "tinyproxy")
	os.Chmod(d, 0o777) // it writes its log as nobody
	host, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf("User nobody\nGroup nogroup\nListen %s\nPort %s\nTimeout 20\nMaxClients 50\nAllow 127.0.0.0/8\nLogLevel Info\nLogFile %q\nDisableViaHeader Yes\n",
		host, port, filepath.Join(d, "tinyproxy.log"))
	if len(connectPorts) == 0 {
		connectPorts = []int{443} // tinyproxy allows every port when none is named
		filter := filepath.Join(d, "filter")
		os.WriteFile(filter, []byte(":2525\n"), 0o644)
		conf += fmt.Sprintf("Filter %q\nFilterURLs On\nFilterExtended On\n", filter)
	}
	for _, p := range connectPorts {
		conf += fmt.Sprintf("ConnectPort %d\n", p)
	}
	cf := filepath.Join(d, "tinyproxy.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	startListening(t, exec.Command("tinyproxy", "-d", "-c", cf), addr, filepath.Join(d, "tinyproxy.log"))
}

// StartDante runs dante-server's danted on addr: SOCKS4 and SOCKS5 without
// authentication (SOCKS5 only with socks5Only), or with username
// authentication required (which relayprobe never offers).
func StartDante(t T, addr string, requireAuth, socks5Only bool) {
	t.Helper()
	Require(t, "danted")
	d := Dir(t, "dante")
	host, port, _ := net.SplitHostPort(addr)
	method := "none"
	if requireAuth {
		method = "username"
	}
	conf := strings.Join([]string{
		"logoutput: " + filepath.Join(d, "danted.log"),
		fmt.Sprintf("internal: %s port = %s", host, port),
		"external: " + host,
		"clientmethod: none",
		"socksmethod: " + method,
		"user.privileged: root",
		"user.unprivileged: nobody",
		"client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }",
	}, "\n") + "\n"
	if socks5Only {
		conf += "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 proxyprotocol: socks_v5 }\n"
	} else {
		conf += "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
	}
	cf := filepath.Join(d, "danted.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	startListening(t, exec.Command("danted", "-f", cf, "-p", filepath.Join(d, "danted.pid"), "-N", "1"), addr, filepath.Join(d, "danted.log"))
}

// StartMicrosocks runs microsocks (SOCKS5, no authentication) on addr.
func StartMicrosocks(t T, addr string) {
	t.Helper()
	Require(t, "microsocks")
	host, port, _ := net.SplitHostPort(addr)
	startListening(t, exec.Command("microsocks", "-i", host, "-p", port, "-b", host), addr, "")
}
