package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"outguard/internal/harness"
	"outguard/probe"
)

// The block tests' loopback addresses: 127.0.30.0/24.
const (
	blockRelay    = "127.0.30.2"
	blockExcluded = "127.0.30.9" // an open relay in block.exclude
)

// nftNamespace makes a network namespace of the test's own (unshare -n,
// a process stopped by PID at cleanup) with a set as the ISP's ruleset
// would have it, and puts a wrapper named nft first in PATH that runs the
// real nft inside it. It returns the set's contents as the real nft lists
// them.
func nftNamespace(t *testing.T, dir string) func() string {
	t.Helper()
	harness.Require(t, "nft", "unshare", "nsenter")
	holder := exec.Command("unshare", "-n", "sleep", "3600")
	harness.Start(t, holder)
	ns := func(args ...string) (string, error) {
		out, err := exec.Command("nsenter", append([]string{"-t", fmt.Sprint(holder.Process.Pid), "-n", "nft"}, args...)...).CombinedOutput()
		return string(out), err
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)); err == nil && other != self {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare -n: no network namespace of its own")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, cmd := range [][]string{{"add", "table", "inet", "filter"},
		{"add", "set", "inet", "filter", "outguard_blocked", "{ type ipv4_addr; flags timeout; }"}} {
		if out, err := ns(cmd...); err != nil {
			t.Fatalf("nft %v in the test's namespace: %v: %s", cmd, err, out)
		}
	}
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	nft, _ := exec.LookPath("nft")
	os.WriteFile(filepath.Join(bin, "nft"), []byte(fmt.Sprintf("#!/bin/sh\nexec nsenter -t %d -n %s \"$@\"\n", holder.Process.Pid, nft)), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return func() string {
		out, err := ns("list", "set", "inet", "filter", "outguard_blocked")
		if err != nil {
			t.Fatalf("nft list set: %v: %s", err, out)
		}
		return out
	}
}

// A confirmed relay of the lab (a Wingate) is blocked in every backend: a
// real nftables set in a namespace of the test's own, a command (a script
// that records its argv), the address list, the Postfix access map (as
// postmap reads it) and the RPZ zone (as nsd-checkzone reads it); the
// customer and the abuse desk are told with the evidence. A rescan that
// finds it unreachable keeps the block; a rescan that finds it closed
// lifts it at once; expiry lifts it; an excluded address is never
// blocked. Before, relayprobe had no block command: confirmed relays
// stayed open until someone acted by hand.
func TestRelayprobeBlock(t *testing.T) {
	harness.Require(t, "postmap", "nsd-checkzone")
	bin := relayprobeBin(t)
	dir := t.TempDir()
	set := nftNamespace(t, dir)
	record := filepath.Join(dir, "record")
	cmdLog := filepath.Join(dir, "commands.log")
	os.WriteFile(record, []byte("#!/bin/sh\necho \"$@\" >> "+cmdLog+"\n"), 0o755)
	alertLog := filepath.Join(dir, "alerts.log")
	customers := filepath.Join(dir, "customers.csv")
	os.WriteFile(customers, []byte("127.0.30.0/24,cust-42\n"), 0o644)
	list, access, rpz := filepath.Join(dir, "out", "blocked.txt"), filepath.Join(dir, "out", "access"), filepath.Join(dir, "out", "blocked.rpz")
	cfg := rpConfig(t, dir, fmt.Sprintf(`customers: %s
alert: {command: [sh, -c, "cat >> %s; echo >> %s"]}
block:
  duration: 7d
  exclude: [%s/32]
  nftables: {table: "inet filter", set: outguard_blocked}
  command: {add: [%s, add, "{addr}", "{customer}"], remove: [%s, remove, "{addr}"]}
  files: {list: %s, postfix_access: %s, rpz: %s}
`, customers, alertLog, alertLog, blockExcluded, record, record, list, access, rpz))
	read := func(name string) string { b, _ := os.ReadFile(name); return string(b) }

	// -check-config asks nft for the set: a typo shows before any block.
	typo := filepath.Join(dir, "typo.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(typo, []byte(strings.Replace(string(b), "set: outguard_blocked", "set: outguard_blokked", 1)), 0o644)
	if code, _, errs := rp(t, bin, "-check-config", "-config", typo); code != 2 || !strings.Contains(errs, "outguard_blokked") {
		t.Errorf("-check-config with a set that does not exist: exit %d %s", code, errs)
	}
	if code, _, errs := rp(t, bin, "-check-config", "-config", cfg); code != 0 {
		t.Errorf("-check-config: exit %d %s", code, errs)
	}

	wingate := harness.StartWingate(t, blockRelay+":2323")
	harness.StartWingate(t, blockExcluded+":2323")
	code, out, errs := rp(t, bin, "scan", "-config", cfg, "-json", blockRelay, blockExcluded)
	if got := findings(t, out); code != 1 || got[blockRelay+":2323"].Result != probe.Confirmed || got[blockExcluded+":2323"].Result != probe.Confirmed {
		t.Fatalf("scan: exit %d\n%s%s", code, out, errs)
	}
	if s := set(); !strings.Contains(s, blockRelay+" timeout 7d") || strings.Contains(s, blockExcluded) {
		t.Errorf("nftables set after the scan:\n%s", s)
	}
	if got := read(list); got != blockRelay+"\n" {
		t.Errorf("address list: %q", got)
	}
	if got := read(cmdLog); got != "add "+blockRelay+" cust-42\n" {
		t.Errorf("commands: %q", got)
	}
	if out, err := exec.Command("postmap", "-q", blockRelay, "texthash:"+access).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "REJECT ") {
		t.Errorf("postmap -q %s: %v %q\n%s", blockRelay, err, out, read(access))
	}
	if out, err := exec.Command("postmap", "-q", blockExcluded, "texthash:"+access).CombinedOutput(); err == nil {
		t.Errorf("excluded address in the access map: %q", out)
	}
	if out, err := exec.Command("nsd-checkzone", "rpz.isp.test", rpz).CombinedOutput(); err != nil || !strings.Contains(read(rpz), "32.2.30.0.127.rpz-client-ip IN CNAME .") {
		t.Errorf("nsd-checkzone: %v %s\n%s", err, out, read(rpz))
	}
	// The RPZ zone as a resolver applies it (unbound's rpz:): the blocked
	// client gets NXDOMAIN for every name, another client the answer (of
	// the test's upstream server).
	upstream := &dns.Server{Addr: "127.0.30.53:0", Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.0.2.80")
		r.Answer = append(r.Answer, rr)
		w.WriteMsg(r)
	})}
	up, err := net.ListenPacket("udp", "127.0.30.53:0")
	if err != nil {
		t.Fatal(err)
	}
	upstream.PacketConn = up
	go upstream.ActivateAndServe()
	t.Cleanup(func() { upstream.Shutdown() })
	resolver := harness.StartUnbound(t, harness.UnboundConfig{RPZ: []string{rpz}, Forward: strings.Replace(up.LocalAddr().String(), ":", "@", 1)})
	for client, want := range map[string]int{blockRelay: dns.RcodeNameError, "127.0.30.3": dns.RcodeSuccess} {
		c := &dns.Client{Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(client)}}}
		m := new(dns.Msg)
		m.SetQuestion("www.customer.example.", dns.TypeA)
		if r, _, err := c.Exchange(m, resolver.Addr); err != nil || r.Rcode != want {
			t.Errorf("unbound with the RPZ zone, client %s: %v %v, want %s", client, err, r, dns.RcodeToString[want])
		}
	}
	var alert struct {
		Event string
		Added []probe.Block
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(read(alertLog))[strings.LastIndex(strings.TrimSpace(read(alertLog)), "\n")+1:]), &alert); err != nil ||
		alert.Event != "relayprobe-block" || len(alert.Added) != 1 || alert.Added[0].Customer != "cust-42" ||
		len(alert.Added[0].Findings) != 1 || alert.Added[0].Findings[0].Evidence == "" {
		t.Errorf("block alert: %v %+v\n%s", err, alert, read(alertLog))
	}
	if code, out, _ := rp(t, bin, "blocks", "-config", cfg); code != 0 || !strings.Contains(out, blockRelay+"  cust-42") || !strings.Contains(out, "confirmed open wingate on "+blockRelay+":2323") {
		t.Errorf("blocks: exit %d\n%s", code, out)
	}

	// The router rebooted: the set is empty. The next run puts the block
	// back.
	if out, err := exec.Command("nft", "flush", "set", "inet", "filter", "outguard_blocked").CombinedOutput(); err != nil || strings.Contains(set(), blockRelay) {
		t.Fatalf("nft flush set: %v %s", err, out)
	}

	// Unreachable: a tarpit where the Wingate was, in a healthy scan (its
	// other ports refuse). The block stays.
	wingate.Close()
	tarpit := harness.Serve(t, blockRelay+":2323", func(c net.Conn) { time.Sleep(time.Minute) })
	code, out, errs = rp(t, bin, "scan", "-config", cfg, "-json", blockRelay)
	if sc := lastScan(t, dir); code != 0 || !sc.Healthy() || sc.Counts[probe.Unreachable] != 1 {
		t.Fatalf("unreachable rescan: exit %d %+v\n%s%s", code, sc, out, errs)
	}
	if s := set(); !strings.Contains(s, blockRelay) || read(list) != blockRelay+"\n" || strings.Contains(read(cmdLog), "remove") {
		t.Errorf("an unreachable rescan lifted the block:\n%s%s", s, read(cmdLog))
	}

	// Fixed: the port refuses. The block is lifted at once.
	tarpit.Close()
	code, out, errs = rp(t, bin, "scan", "-config", cfg, "-json", blockRelay)
	if sc := lastScan(t, dir); code != 0 || !sc.Healthy() {
		t.Fatalf("fixed rescan: exit %d\n%s%s", code, out, errs)
	}
	if s := set(); strings.Contains(s, blockRelay) || read(list) != "" || read(cmdLog) != "add "+blockRelay+" cust-42\nremove "+blockRelay+"\n" {
		t.Errorf("a rescan that found the relay closed did not lift the block:\n%s%q", s, read(cmdLog))
	}
	if out, err := exec.Command("postmap", "-q", blockRelay, "texthash:"+access).CombinedOutput(); err == nil {
		t.Errorf("lifted address still in the access map: %q", out)
	}
	if !strings.Contains(read(alertLog), `"lifted":"fixed"`) {
		t.Errorf("lift not alerted:\n%s", read(alertLog))
	}

	// Open again, blocked again; then block.duration passes (the clock
	// moved on) and the block expires.
	harness.StartWingate(t, blockRelay+":2323")
	if code, out, errs = rp(t, bin, "scan", "-config", cfg, "-json", blockRelay); code != 1 || !strings.Contains(set(), blockRelay) {
		t.Fatalf("second scan: exit %d\n%s%s%s", code, out, errs, set())
	}
	c, err := probe.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := probe.Enforce(context.Background(), c, time.Now().Add(7*24*time.Hour+time.Minute), false, slog.New(slog.DiscardHandler))
	if err != nil || len(e.Lifted) != 1 || e.Lifted[0].Lifted != "expired" || len(e.Active) != 0 {
		t.Fatalf("expiry: %v %+v", err, e)
	}
	if s := set(); strings.Contains(s, blockRelay) || read(list) != "" || !strings.HasSuffix(read(cmdLog), "remove "+blockRelay+"\n") {
		t.Errorf("expired block not lifted:\n%s%q", s, read(cmdLog))
	}

	// A dry run now (the real clock: the confirmation is fresh) tells
	// what it would block, and changes nothing.
	before := read(cmdLog)
	if code, out, _ := rp(t, bin, "block", "-config", cfg, "--dry-run"); code != 0 || !strings.Contains(out, "block   "+blockRelay+" cust-42") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	if s := set(); strings.Contains(s, blockRelay) || read(list) != "" || read(cmdLog) != before {
		t.Errorf("dry run changed something:\n%s%q", s, read(cmdLog))
	}
	if code, out, _ := rp(t, bin, "block", "-config", cfg); code != 0 || !strings.Contains(set(), blockRelay) || read(list) != blockRelay+"\n" {
		t.Errorf("block: exit %d\n%s", code, out)
	}
}
