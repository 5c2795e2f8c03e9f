package probe

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/yamlconf"
)

// Review of #30: the exclude list, the alert channel.

// block.exclude written in the IPv4-mapped spelling (::ffff:192.0.2.0/120,
// as an operator copying from an IPv6 socket's log would) still excludes
// the IPv4 addresses: the ISP's own infrastructure is never blocked,
// however its range was spelled. Before, it matched nothing (targets are
// unmapped before the check) and the excluded relay was blocked.
func TestReviewExcludeMappedSpelling(t *testing.T) {
	l := newBlockLab(t)
	l.cfg.Block.Exclude = []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("::ffff:192.0.2.0/124"))}
	l.save(0, true, relay(Confirmed))
	if e := l.enforce(1); len(e.Added) != 0 || l.file("list") != "" || l.file("commands") != "" {
		t.Errorf("an address of block.exclude (mapped spelling) was blocked: %+v %q", e.Added, l.file("commands"))
	}
}

// An alert command that leaves a child holding its output (a script that
// hands the mail to a background sender) does not hold the run, and
// blocks.lock with it, beyond alert.timeout. Before, Enforce waited for the
// child to close the pipe, whatever the timeout.
func TestReviewBlockAlertChildBounded(t *testing.T) {
	l := newBlockLab(t)
	l.cfg.Alert = yamlconf.Alert{Command: []string{"sh", "-c", "sleep 30 & cat >/dev/null"}, Timeout: yamlconf.Duration(time.Second)}
	l.save(0, true, relay(Confirmed))
	start := time.Now()
	if e := l.enforce(1); len(e.Added) != 1 {
		t.Fatalf("not blocked: %+v", e)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Enforce took %v with alert.timeout 1s", d)
	}
}

// The customer and the abuse desk are told of a block even when the alert
// channel was down when it was made: the alert is kept and delivered on the
// next run, once, in order. Before, it was logged and lost: the next run
// had nothing new to tell, and nobody heard of the block.
func TestReviewBlockAlertKeptWhileChannelDown(t *testing.T) {
	l := newBlockLab(t)
	down := filepath.Join(l.dir, "alert-down")
	got := filepath.Join(l.dir, "alerts")
	l.cfg.Alert = yamlconf.Alert{Command: []string{"sh", "-c", "[ -e " + down + " ] && exit 1; cat >> " + got + "; echo >> " + got},
		Timeout: yamlconf.Duration(10 * time.Second)}
	os.WriteFile(down, nil, 0o644)
	l.save(0, true, relay(Confirmed))
	if e := l.enforce(1); len(e.Added) != 1 {
		t.Fatalf("not blocked: %+v", e)
	}
	if l.file("alerts") != "" {
		t.Fatalf("alert delivered through a channel that is down: %q", l.file("alerts"))
	}
	l.save(2, true, relay(Confirmed)) // still open: nothing new to tell
	l.enforce(3)
	if l.file("alerts") != "" {
		t.Fatalf("alert delivered through a channel that is down: %q", l.file("alerts"))
	}
	os.Remove(down)
	l.enforce(4)
	l.enforce(5)
	a := l.file("alerts")
	if strings.Count(a, `"event":"relayprobe-block"`) != 1 || !strings.Contains(a, `"addr":"192.0.2.7"`) || !strings.Contains(a, "250 queued as X") {
		t.Errorf("the block made while the alert channel was down was not told once, with its evidence: %q", a)
	}
}

// block.nftables names go into an nft script (nft -f -), where ";" and a
// newline end a command: a set or table name carrying one (a generated
// config, a paste) would run what follows, e.g. "flush ruleset", dropping
// the ISP's firewall. Such names are refused at load, before any nft run;
// the family is one nft knows. Before, only the table's word count was
// checked.
func TestReviewNFTablesNamesRefused(t *testing.T) {
	base := "canary: {address: 192.0.2.10:25, domain: c.test}\nhelo: p.test\n"
	for _, y := range []string{
		`block: {nftables: {table: "inet filter", set: "outguard_blocked; flush ruleset"}}`,
		`block: {nftables: {table: "inet filter", set: outguard_blocked, set6: "v6 }\nflush ruleset\n"}}`,
		`block: {nftables: {table: "inet filter;flush ruleset", set: outguard_blocked}}`,
		`block: {nftables: {table: "fliter filter", set: outguard_blocked}}`,
	} {
		if _, err := Parse("t.yaml", []byte(base+y+"\n")); err == nil || !strings.Contains(err.Error(), "block.nftables") {
			t.Errorf("%s: %v, want a block.nftables error", y, err)
		}
	}
	if _, err := Parse("t.yaml", []byte(base+`block: {nftables: {table: "ip6 my-fw.v2", set: blocked_4, set6: blocked_6}}`+"\n")); err != nil {
		t.Errorf("good names refused: %v", err)
	}
}

// The customer map in either spelling of an IPv4 range (192.0.2.0/24 or
// ::ffff:192.0.2.0/120) names the customer of the address however the
// target was typed: the customer is told of the block and named for a
// listing. Before, a mapped range in the CSV matched no IPv4 address (and
// an IPv4 range no mapped target): nobody was named.
func TestReviewCustomerMappedSpelling(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "customers.csv")
	os.WriteFile(csv, []byte("::ffff:192.0.2.0/120,cust-m\n198.51.100.0/24,cust-v4\n"), 0o644)
	cs, err := loadCustomers(csv)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{"192.0.2.7": "cust-m", "::ffff:192.0.2.7": "cust-m", "::ffff:198.51.100.9": "cust-v4", "198.51.100.9": "cust-v4"} {
		if got := customerOf(cs, netip.MustParseAddr(addr)); got != want {
			t.Errorf("customer of %s: %q, want %q", addr, got, want)
		}
	}
}

// A target typed in the IPv4-mapped spelling (relayprobe scan
// ::ffff:192.0.2.5) is its IPv4 address: the scan's exclude list holds
// for it, and a later scan of the address typed as IPv4 that finds it
// closed lifts the block its first scan made. Before, the mapped address
// escaped exclude (the ISP's own host was relay-tested), and its finding
// was never known closed by an IPv4 scan: the block stayed until it
// expired.
func TestReviewMappedTargetIsItsIPv4Address(t *testing.T) {
	mapped, err := Prefixes([]string{"::ffff:192.0.2.5", "::ffff:192.0.2.0/124"})
	if err != nil {
		t.Fatal(err)
	}
	var got []netip.Addr
	eachAddr(mapped, prefixes([]yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.0/28"))}), func(a netip.Addr) bool {
		got = append(got, a)
		return true
	})
	if len(got) != 0 {
		t.Errorf("scan.exclude 192.0.2.0/28 let through %v typed as mapped targets", got)
	}

	l := newBlockLab(t)
	at := func(hours int) time.Time { return l.t0.Add(time.Duration(hours) * time.Hour) }
	save := func(hours int, target string, findings []OpenService) {
		ts, err := Prefixes([]string{target})
		if err != nil {
			t.Fatal(err)
		}
		for i := range findings {
			findings[i].Time = at(hours)
		}
		sc := &Scan{Started: at(hours), Finished: at(hours), Targets: ts, Ports: Ports{"smtp": {25}}, Findings: findings}
		if err := sc.Save(l.dir); err != nil {
			t.Fatal(err)
		}
	}
	a := func(target string) string {
		ts, _ := Prefixes([]string{target})
		return netip.AddrPortFrom(ts[0].Addr(), 25).String() // as the scan names its targets
	}
	save(0, "::ffff:192.0.2.7", []OpenService{{Target: a("::ffff:192.0.2.7"), Service: "smtp-relay", Result: Confirmed, Evidence: "250 queued as X"}})
	if e := l.enforce(1); len(e.Added) != 1 {
		t.Fatalf("not blocked: %+v", e)
	}
	save(2, "192.0.2.7", nil) // closed: no finding, no outcome (scan.go keeps only the others)
	if e := l.enforce(3); len(e.Lifted) != 1 || e.Lifted[0].Lifted != "fixed" {
		t.Errorf("a healthy scan found the address closed; the block made from its mapped spelling was not lifted: %+v", e)
	}
}
