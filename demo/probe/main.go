// Command probe shows relayprobe at work on the loopback lab: open, %-hack
// and closed Postfix relays, an accept-all smtp-sink, tinyproxy, dante,
// microsocks, a fake proxy, a tarpit and a Wingate, each on an address of
// its own. It runs the relayprobe binary as an admin would and prints its
// table; everything started is stopped at the end.
//
// Run it with `make probe-demo` (as root on Debian).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"outguard/internal/harness"
)

func main() {
	bin := flag.String("relayprobe", "bin/relayprobe", "relayprobe binary to run")
	flag.Parse()
	p := &harness.Program{Name: "probe-demo"}
	defer p.Close()
	harness.Require(p, *bin)
	fmt.Println("starting the lab on 127.0.0.2-17 …")
	harness.StartRelayLab(p)
	dir := harness.Dir(p, "probe-demo")
	cfg := filepath.Join(dir, "relayprobe.yaml")
	ports := func(ps []int) string { return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ps)), ", "), "[]") }
	os.WriteFile(cfg, []byte(fmt.Sprintf(`canary: {listen: %q, address: %q, domain: canary.test, wait: 10s}
targets: [127.0.0.0/27]
exclude: [127.0.0.1]
ports: {smtp: [%s], proxy: [%s], telnet: [%s]}
timeouts: {connect: 2s, reply: 3s}
helo: probe.isp.test
source: 127.0.0.1
info_url: https://isp.test/relay-scan
state_dir: %s
`, harness.LabCanary, harness.LabCanary, ports(harness.LabPorts.SMTP), ports(harness.LabPorts.Proxy), ports(harness.LabPorts.Telnet), dir)), 0o644)
	fmt.Printf("relayprobe scan -config %s\n\n", cfg)
	cmd := exec.Command(*bin, "scan", "-config", cfg)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	fmt.Printf("\nexit status %d (1: confirmed findings exist)\n", code)
	fmt.Println(`
What to read in it:
  127.0.0.3 open Postfix and 127.0.0.4 (% hack only): confirmed relays, with
    the relay's own Received line as it arrived at the canary.
  127.0.0.6 smtp-sink accepts every recipient and discards the mail: only
    suspected (nmap's smtp-open-relay calls it open).
  127.0.0.7 tinyproxy, 127.0.0.9 and .17 dante, 127.0.0.11 microsocks, 127.0.0.15
    Wingate: confirmed, the canary's banner and its proof came back through them.
  127.0.0.16 tinyproxy refuses CONNECT to port 25 but forwards a POST there:
    confirmed as http-post (the canary saw the token it carried).
  127.0.0.12 says "200 Connection established" and shows a fake banner:
    suspected. The closed Postfix, the CONNECT-refusing tinyproxy, dante with
    authentication and the empty address: nothing (closed).
  127.0.0.13, the tarpit, takes connections and never answers: its four
    ports are "unreachable" in the summary line, not closed; had it been
    open before, it would not be called fixed.`)
	if code != 1 {
		p.Fatalf("relayprobe: %v (want exit status 1)", err)
	}
}
