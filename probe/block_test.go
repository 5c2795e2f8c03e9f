package probe

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/yamlconf"
)

// blockLab is a state directory with block: configured: a command that
// records its argv (failing while dir/fail exists) and the address list.
type blockLab struct {
	t    *testing.T
	dir  string
	cfg  *Config
	t0   time.Time
	scan int
}

func newBlockLab(t *testing.T) *blockLab {
	dir := t.TempDir()
	rec := filepath.Join(dir, "record")
	os.WriteFile(rec, []byte("#!/bin/sh\n[ -e "+dir+"/fail ] && { echo refused >&2; exit 1; }\necho \"$@\" >> "+dir+"/commands\n"), 0o755)
	cfg := Default()
	cfg.StateDir = dir
	cfg.Block = &BlockConfig{Duration: yamlconf.Duration(7 * 24 * time.Hour), Timeout: yamlconf.Duration(30 * time.Second),
		Command: CommandBackend{Add: []string{rec, "add", "{addr}"}, Remove: []string{rec, "remove", "{addr}"}},
		Files:   FileBackends{List: filepath.Join(dir, "list")}}
	return &blockLab{t: t, dir: dir, cfg: cfg, t0: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// save keeps a scan of 192.0.2.0/24 port 25 at t0 plus the given hours.
func (l *blockLab) save(hours int, healthy bool, findings []OpenService, outcomes ...Outcome) {
	l.t.Helper()
	at := l.t0.Add(time.Duration(hours) * time.Hour)
	for i := range findings {
		findings[i].Time = at
	}
	sc := &Scan{Started: at, Finished: at, Targets: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Ports: Ports{"smtp": {25}}, Findings: findings, Outcomes: outcomes}
	if !healthy {
		sc.Problems = []string{"the canary is not reachable"}
	}
	if err := sc.Save(l.dir); err != nil {
		l.t.Fatal(err)
	}
}

func (l *blockLab) enforce(hours int) Enforcement {
	l.t.Helper()
	e, err := Enforce(context.Background(), l.cfg, l.t0.Add(time.Duration(hours)*time.Hour), false, slog.New(slog.DiscardHandler))
	if err != nil {
		l.t.Fatal(err)
	}
	return e
}

func (l *blockLab) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.dir, name))
	return string(b)
}

func relay(result string) []OpenService {
	return []OpenService{{Target: "192.0.2.7:25", Service: "smtp-relay", Result: result, Evidence: "250 queued as X"}}
}

// Only a healthy scan that tested the address lifts a block: not an
// unhealthy one, not one that found it suspected (open, unconfirmed), not
// one whose test of it ended in error. A newer confirmation extends the
// block without running the add command again.
func TestEnforceLiftsOnlyOnTestedClosed(t *testing.T) {
	l := newBlockLab(t)
	l.save(0, true, relay(Confirmed))
	if e := l.enforce(1); len(e.Added) != 1 || l.file("list") != "192.0.2.7\n" || l.file("commands") != "add 192.0.2.7\n" {
		t.Fatalf("confirmed: %+v %q %q", e, l.file("list"), l.file("commands"))
	}
	l.save(2, false, nil)
	l.save(3, true, relay(Suspected))
	l.save(4, true, nil, Outcome{Target: "192.0.2.7:25", State: Error, Detail: "too many open files"})
	if e := l.enforce(5); len(e.Lifted) != 0 || len(e.Active) != 1 || l.file("list") != "192.0.2.7\n" {
		t.Fatalf("lifted by an unhealthy scan, a suspected finding or an error: %+v", e)
	}
	l.save(6, true, relay(Confirmed))
	e := l.enforce(7)
	if len(e.Extended) != 1 || !e.Active[0].Expires.Equal(l.t0.Add(6*time.Hour+7*24*time.Hour)) || l.file("commands") != "add 192.0.2.7\n" {
		t.Fatalf("reconfirmed: %+v %q", e, l.file("commands"))
	}
	l.save(8, true, nil)
	if e := l.enforce(9); len(e.Lifted) != 1 || e.Lifted[0].Lifted != "fixed" || l.file("list") != "" || l.file("commands") != "add 192.0.2.7\nremove 192.0.2.7\n" {
		t.Fatalf("closed in a healthy scan: %+v %q", e, l.file("commands"))
	}
}

// A confirmation kept by an unhealthy scan since still expires; an
// address put in block.exclude is lifted at once.
func TestEnforceExpiryAndExclude(t *testing.T) {
	l := newBlockLab(t)
	l.save(0, true, relay(Confirmed))
	l.enforce(1)
	l.save(2, false, nil)
	if e := l.enforce(7*24 - 1); len(e.Active) != 1 {
		t.Fatalf("expired early: %+v", e)
	}
	if e := l.enforce(7 * 24); len(e.Lifted) != 1 || e.Lifted[0].Lifted != "expired" || l.file("list") != "" {
		t.Fatalf("not expired: %+v", e)
	}
	l.save(7*24+1, true, relay(Confirmed))
	if e := l.enforce(7*24 + 2); len(e.Added) != 1 {
		t.Fatalf("confirmed again: %+v", e)
	}
	l.cfg.Block.Exclude = []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.0/29"))}
	if e := l.enforce(7*24 + 3); len(e.Lifted) != 1 || e.Lifted[0].Lifted != "excluded" || len(e.Active) != 0 {
		t.Fatalf("excluded: %+v", e)
	}
}

// A backend that fails leaves the address as it was, and the next run
// tries again: a block that failed is not recorded as active (nor listed),
// a lift that failed keeps the block.
func TestEnforceBackendFailureRetried(t *testing.T) {
	l := newBlockLab(t)
	os.WriteFile(filepath.Join(l.dir, "fail"), nil, 0o644)
	l.save(0, true, relay(Confirmed))
	if e := l.enforce(1); len(e.Failures) != 1 || len(e.Active) != 0 || l.file("list") != "" || !strings.Contains(e.Failures[0], "refused") {
		t.Fatalf("failed add: %+v", e)
	}
	os.Remove(filepath.Join(l.dir, "fail"))
	if e := l.enforce(2); len(e.Added) != 1 || l.file("list") != "192.0.2.7\n" {
		t.Fatalf("retried add: %+v", e)
	}
	os.WriteFile(filepath.Join(l.dir, "fail"), nil, 0o644)
	l.save(3, true, nil)
	if e := l.enforce(4); len(e.Failures) != 1 || len(e.Active) != 1 || l.file("list") != "192.0.2.7\n" {
		t.Fatalf("failed lift: %+v", e)
	}
	os.Remove(filepath.Join(l.dir, "fail"))
	if e := l.enforce(5); len(e.Lifted) != 1 || l.file("list") != "" {
		t.Fatalf("retried lift: %+v", e)
	}
}

// A command that hangs (a router API that never answers), leaving a
// child that holds its output open, ends at block.timeout as a failure;
// the run goes on. Before, a hanging command held the run (and the scan
// that ran it) for 30 seconds, and a child holding the pipe for ever.
func TestEnforceCommandTimeout(t *testing.T) {
	l := newBlockLab(t)
	os.WriteFile(l.cfg.Block.Command.Add[0], []byte("#!/bin/sh\nsleep 600 &\nsleep 600\n"), 0o755)
	l.cfg.Block.Timeout = yamlconf.Duration(500 * time.Millisecond)
	l.save(0, true, relay(Confirmed))
	done := make(chan Enforcement)
	go func() { done <- l.enforce(1) }()
	select {
	case e := <-done:
		if len(e.Failures) != 1 || len(e.Active) != 0 || !strings.Contains(e.Failures[0], "killed") {
			t.Fatalf("hanging command: %+v", e)
		}
	case <-time.After(time.Minute):
		t.Fatal("a hanging command held the run")
	}
	// Its children were killed with it: nothing of it is left running.
	if out, err := exec.Command("pgrep", "-f", "^sleep 600$").Output(); err == nil {
		t.Errorf("the command's children still run: %s", out)
	}
}

// The block state says what the backends hold: damaged, it stops
// enforcement with an error instead of forgetting every block.
func TestEnforceDamagedState(t *testing.T) {
	l := newBlockLab(t)
	os.WriteFile(filepath.Join(l.dir, "blocks.json"), []byte(`{"blocks":[{"addr":"192.0`), 0o640)
	if _, err := Enforce(context.Background(), l.cfg, l.t0, false, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged blocks.json: %v", err)
	}
}

func TestRPZClientIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":        "32.7.2.0.192.rpz-client-ip",
		"::ffff:192.0.2.7": "32.7.2.0.192.rpz-client-ip",
		"2001:db8::1":      "128.1.0.0.0.0.0.db8.2001.rpz-client-ip",
	} {
		if got := rpzClientIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestBlockListingsConfig(t *testing.T) {
	base := "canary: {address: 192.0.2.10:25, domain: c.test}\nhelo: p.test\n"
	for _, c := range []struct{ yaml, err string }{
		{"block: {}\n", ""},
		{"block: {duration: 30s}\n", "block.duration"},
		{"block: {nftables: {table: filter, set: x}}\n", "block.nftables"},
		{"block: {files: {list: relative.txt}}\n", "absolute"},
		{"listings: {ranges: [10.0.0.0/12]}\n", "at most 262144"},
		{"listings: {ranges: [2001:db8::/64]}\n", "only IPv4"},
		{"listings: {ranges: [192.0.2.0/24], warn_per24: 6}\n", "warn_per24"},
		{"listings: {ranges: [192.0.2.0/24], zones: [{zone: a.test, form: net24}]}\n", "form"},
		{"listings: {ranges: [192.0.2.0/24], zones: [{zone: a.test, codes: [listed]}]}\n", "codes"},
		{"listings: {ranges: [192.0.2.0/24], zones: [{zone: a.test, key: a.b}]}\n", "key"},
		{"listings: {ranges: [192.0.2.0/24], zones: []}\n", "listings.zones"},
		// The same addresses twice would be asked twice and counted twice
		// in their /24: a false escalation warning.
		{"listings: {ranges: [192.0.2.0/24, 192.0.2.128/25]}\n", "192.0.2.128/25 overlaps 192.0.2.0/24"},
		{"listings: {ranges: [192.0.2.0/25, 192.0.2.0/25]}\n", "overlaps"},
		{"listings: {ranges: [192.0.2.0/24], accounts: []}\n", "listings.accounts"},
		{"listings: {ranges: [192.0.2.0/24], accounts_timeout: -1s}\n", "listings.accounts_timeout"},
	} {
		cfg, err := Parse("t.yaml", []byte(base+c.yaml))
		if c.err == "" {
			if err != nil || time.Duration(cfg.Block.Duration) != 7*24*time.Hour {
				t.Errorf("%s: %v", c.yaml, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.err)
		}
	}
	cfg, err := Parse("t.yaml", []byte(base+"listings: {ranges: [192.0.2.0/24]}\n"))
	if err != nil || len(cfg.Listings.Zones) != 5 || cfg.Listings.Zones[2].Form != FormRange || !cfg.Listings.Zones[0].Per24 || cfg.Listings.Rate != 50 {
		t.Errorf("listings defaults: %v %+v", err, cfg.Listings)
	}
	// 1<<18 addresses a zone is the bound: a /14 with one zone fits.
	if _, err := Parse("t.yaml", []byte(base+"listings: {ranges: [10.0.0.0/14], zones: [{zone: a.test}]}\n")); err != nil {
		t.Errorf("at the bound: %v", err)
	}
}

// Two runs at once (the timer's scan and an operator's relayprobe block)
// act once: the second sees what the first did. Before the lock, both
// read the old state and both ran the add command.
func TestEnforceTwoAtOnce(t *testing.T) {
	l := newBlockLab(t)
	rec := l.cfg.Block.Command.Add[0]
	os.WriteFile(rec, []byte("#!/bin/sh\nsleep 0.5\necho \"$@\" >> "+l.dir+"/commands\n"), 0o755)
	l.save(0, true, relay(Confirmed))
	done := make(chan Enforcement)
	for range 2 {
		go func() {
			e, _ := Enforce(context.Background(), l.cfg, l.t0.Add(time.Hour), false, slog.New(slog.DiscardHandler))
			done <- e
		}()
	}
	a, b := <-done, <-done
	if len(a.Added)+len(b.Added) != 1 || l.file("commands") != "add 192.0.2.7\n" {
		t.Fatalf("two runs at once: %+v %+v %q", a, b, l.file("commands"))
	}
}

// A program that reads a block file while relayprobe rewrites it (Postfix
// opening the access map, a resolver reloading the RPZ zone) gets the old
// file or the new one, never a part: writeAtomic renames a whole file over
// it.
func TestBlockFileReadWhileWritten(t *testing.T) {
	name := filepath.Join(t.TempDir(), "list")
	a, b := strings.Repeat("192.0.2.1\n", 100000), strings.Repeat("198.51.100.2\n", 70000)
	if err := writeAtomic(name, []byte(a), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			got, err := os.ReadFile(name)
			if err != nil || string(got) != a && string(got) != b {
				done <- fmt.Errorf("read %d bytes: %v", len(got), err)
				return
			}
		}
	}()
	for i := range 50 {
		if err := writeAtomic(name, []byte(map[bool]string{true: a, false: b}[i%2 == 0]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(name), ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// IPv6 and v4-mapped targets (an operator who typed ::ffff:192.0.2.7):
// the IPv6 address goes into block.nftables.set6, the files in the form
// Postfix and RPZ match; the mapped one is the IPv4 address everywhere,
// so block.exclude holds for it too. Before, a mapped target escaped the
// exclude list of the ISP's own infrastructure and went into the IPv4
// set and the files as ::ffff:192.0.2.7, which nothing matches.
func TestEnforceIPv6AndMapped(t *testing.T) {
	l := newBlockLab(t)
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "nft"), []byte("#!/bin/sh\ncat >> "+l.dir+"/nft\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	l.cfg.Block.NFTables = &NFTablesBackend{Table: "inet filter", Set: "v4", Set6: "v6"}
	l.cfg.Block.Files.PostfixAccess = filepath.Join(l.dir, "access")
	l.cfg.Block.Files.RPZ = filepath.Join(l.dir, "rpz")
	l.save(0, true, []OpenService{
		{Target: "[2001:db8::7]:25", Service: "smtp-relay", Result: Confirmed, Evidence: "250 queued as X"},
		{Target: "[::ffff:192.0.2.9]:25", Service: "smtp-relay", Result: Confirmed, Evidence: "250 queued as Y"},
	})
	e := l.enforce(1)
	if len(e.Added) != 2 || len(e.Failures) != 0 || l.file("list") != "192.0.2.9\n2001:db8::7\n" {
		t.Fatalf("added %+v, list %q", e, l.file("list"))
	}
	nft := l.file("nft")
	if !strings.Contains(nft, "add element inet filter v6 { 2001:db8::7 timeout") || !strings.Contains(nft, "add element inet filter v4 { 192.0.2.9 timeout") || strings.Contains(nft, "::ffff") {
		t.Errorf("nft scripts:\n%s", nft)
	}
	if a := l.file("access"); !strings.Contains(a, "\n2001:db8::7 REJECT ") || !strings.HasPrefix(a, "192.0.2.9 REJECT ") {
		t.Errorf("access map:\n%s", a)
	}
	if r := l.file("rpz"); !strings.Contains(r, "\n128.7.0.0.0.0.0.db8.2001.rpz-client-ip IN CNAME .") || !strings.Contains(r, "\n32.9.2.0.192.rpz-client-ip IN CNAME .") {
		t.Errorf("rpz:\n%s", r)
	}
	// The exclude list holds for both families, however the target was
	// written.
	l.cfg.Block.Exclude = []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.8/29")), yamlconf.Prefix(netip.MustParsePrefix("2001:db8::/64"))}
	if e := l.enforce(2); len(e.Lifted) != 2 || len(e.Active) != 0 || l.file("list") != "" {
		t.Errorf("excluded: %+v, list %q", e, l.file("list"))
	}
	l2 := newBlockLab(t)
	l2.cfg.Block.Exclude = []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.8/29"))}
	l2.save(0, true, []OpenService{{Target: "[::ffff:192.0.2.9]:25", Service: "smtp-relay", Result: Confirmed}})
	if e := l2.enforce(1); len(e.Added) != 0 || l2.file("list") != "" {
		t.Errorf("a mapped address of the exclude list was blocked: %+v", e)
	}
}
