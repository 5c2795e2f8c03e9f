package harness

import (
	"bufio"
	"io"
	"net"
	"strings"
	"time"
)

// The relay lab: open and closed relays and proxies for relayprobe, each on
// a loopback address of its own, all relaying to the canary's address.
const (
	LabCanary       = "127.0.0.2:2525"
	LabOpenRelay    = "127.0.0.3:2525" // Postfix relaying for anyone
	LabPercentRelay = "127.0.0.4:2525" // Postfix relaying only through the % hack
	LabClosedRelay  = "127.0.0.5:2525" // Postfix, closed
	LabAcceptAll    = "127.0.0.6:2525" // smtp-sink: accepts everything, delivers nothing
	LabTinyOpen     = "127.0.0.7:3128" // tinyproxy allowing CONNECT to the canary's port
	LabTinyClosed   = "127.0.0.8:3128" // tinyproxy refusing it
	LabDanteOpen    = "127.0.0.9:1080" // SOCKS4/5 without authentication
	LabDanteAuth    = "127.0.0.10:1080"
	LabMicrosocks   = "127.0.0.11:1080"
	LabFakeProxy    = "127.0.0.12:3128" // says 200 and relays nothing
	LabTarpit       = "127.0.0.13"      // accepts on every lab port, never answers
	LabNothing      = "127.0.0.14"      // nothing listens
	LabWingate      = "127.0.0.15:2323" // a Wingate-style prompt that relays
	LabTinyForward  = "127.0.0.16:3128" // tinyproxy refusing CONNECT, forwarding plain requests anywhere
	LabDante5       = "127.0.0.17:1080" // SOCKS5 only, without authentication
)

// LabPorts are the ports the lab listens on, per relayprobe test family.
var LabPorts = struct{ SMTP, Proxy, Telnet []int }{[]int{2525}, []int{3128, 1080}, []int{2323}}

// RelayLab is a running lab.
type RelayLab struct {
	PercentRelay *Postfix
	wingate      net.Listener
}

// StartRelayLab starts every lab component; they stop at cleanup.
func StartRelayLab(t T) *RelayLab {
	t.Helper()
	Require(t, "postfix", "smtp-sink", "tinyproxy", "danted", "microsocks")
	lab := &RelayLab{}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"relayhost": "[127.0.0.2]:2525", "smtpd_banner": "$myhostname ESMTP"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	// Open: mynetworks holds the scanner.
	StartPostfix(t, MTAConfig{Listen: LabOpenRelay, Main: with(map[string]string{
		"myhostname": "open.relay.test", "mynetworks": "127.0.0.0/8"})})
	// Relays only through the % hack (and the other forms that route
	// through its own address): it relays for its address literal and
	// allows sender-specified routing, Postfix's allow_untrusted_routing.
	// Plain recipients and source routes (which Postfix strips) are refused.
	lab.PercentRelay = StartPostfix(t, MTAConfig{Listen: LabPercentRelay, Main: with(map[string]string{
		"myhostname": "percent.relay.test", "mynetworks": "127.0.0.250/32", "proxy_interfaces": "",
		"relay_domains": "[127.0.0.4]", "allow_untrusted_routing": "yes"})})
	StartPostfix(t, MTAConfig{Listen: LabClosedRelay, Main: with(map[string]string{
		"myhostname": "closed.relay.test", "mynetworks": "127.0.0.250/32"})})
	StartSMTPSink(t, LabAcceptAll)
	StartTinyproxy(t, LabTinyOpen, 2525)
	StartTinyproxy(t, LabTinyClosed)
	StartTinyproxy(t, LabTinyForward, 443)
	StartDante(t, LabDanteOpen, false, false)
	StartDante(t, LabDanteAuth, true, false)
	StartDante(t, LabDante5, false, true)
	StartMicrosocks(t, LabMicrosocks)
	Serve(t, LabFakeProxy, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n220 mx.fake.test ESMTP ready\r\n")
		time.Sleep(time.Second)
	})
	for _, port := range []string{"2525", "3128", "1080", "2323"} {
		Serve(t, LabTarpit+":"+port, func(c net.Conn) { time.Sleep(time.Minute) })
	}
	lab.wingate = StartWingate(t, LabWingate)
	return lab
}

// CloseWingate stops the Wingate: the next scan finds it fixed.
func (l *RelayLab) CloseWingate() { l.wingate.Close() }

// Serve runs handler on every connection to addr until the test ends.
func Serve(t T, addr string, handler func(net.Conn)) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handler(c) }()
		}
	}()
	return l
}

// StartWingate runs a Wingate-style relay on addr (no Debian package has
// one): a prompt, a host:port, and the connection spliced to it.
func StartWingate(t T, addr string) net.Listener { return Serve(t, addr, wingateSession) }

func wingateSession(c net.Conn) {
	io.WriteString(c, "WinGate>")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	up, err := net.DialTimeout("tcp", strings.TrimSpace(line), 5*time.Second)
	if err != nil {
		io.WriteString(c, "connection failed\r\n")
		return
	}
	defer up.Close()
	go io.Copy(up, c)
	io.Copy(c, up)
}
