package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/probe"
)

// dnsbl is a test list in zone-file records: each address listed with
// code (127.0.0.2 for a listing), and the test entry every list has (RFC
// 5782 5: 127.0.0.2 listed), which the watch checks first.
func dnsbl(zone string, codes map[string]string) []string {
	rrs := []string{fmt.Sprintf("2.0.0.127.%s. A 127.0.0.2", zone)}
	for addr, code := range codes {
		o := strings.Split(addr, ".")
		rrs = append(rrs, fmt.Sprintf("%s.%s.%s.%s.%s. A %s", o[3], o[2], o[1], o[0], zone, code))
	}
	return rrs
}

type listingLine struct {
	Type     string
	Addr     string
	Zone     string
	Customer string
	Net      string
	Count    int
	Level    string
	Error    string
}

func listingLines(t *testing.T, out string) []listingLine {
	t.Helper()
	var ls []listingLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var x listingLine
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		ls = append(ls, x)
	}
	return ls
}

// pick lists "zone addr customer" of the lines of type typ.
func pick(ls []listingLine, typ string) []string {
	var out []string
	for _, l := range ls {
		if l.Type == typ {
			out = append(out, l.Zone+" "+l.Addr+" "+l.Customer)
		}
	}
	slices.Sort(out)
	return out
}

// relayprobe listings against a real resolver (Debian's unbound serving
// test lists on loopback): it finds exactly the listed addresses of the
// ranges (per address, per /24 for an allocation list), with their
// customer; counts them per /24 with a warning before the escalation
// threshold; takes a "query refused" code for an error, never a listing;
// diffs the second run against the first (new, delisted, escalation);
// and a third run whose resolver is gone delists nothing. Before,
// relayprobe had no listings command.
func TestRelayprobeListings(t *testing.T) {
	harness.Require(t, "promtool")
	bin := relayprobeBin(t)
	dir := t.TempDir()
	customers := filepath.Join(dir, "customers.csv")
	os.WriteFile(customers, []byte("192.0.2.0/25,cust-a\n192.0.2.5/32,cust-five\n198.51.100.0/24,cust-b\n"), 0o644)
	metrics := filepath.Join(dir, "relayprobe_listings.prom")
	alertLog := filepath.Join(dir, "alerts.log")
	config := func(resolver string) string {
		return rpConfig(t, dir, fmt.Sprintf(`customers: %s
alert: {command: [sh, -c, "cat >> %s; echo >> %s"]}
listings:
  ranges: [192.0.2.0/24, 198.51.100.0/25]
  resolver: %s
  rate: 500
  timeout: 1s
  metrics: %s
  zones:
    - {zone: l1.dnsbl.test, name: "Test L1", per24: true}
    - {zone: l3.dnsbl.test, name: "Test L3", form: range}
    - {zone: zen.dnsbl.test, name: "Test ZEN", codes: [127.0.0.2, 127.0.0.4], key: k3y}
`, customers, alertLog, alertLog, resolver, metrics))
	}
	zones := func(l1 map[string]string) map[string][]string {
		return map[string][]string{
			"l1.dnsbl.test.": dnsbl("l1.dnsbl.test", l1),
			// An ASN listing answers for every address of it; the watch
			// asks the first of each range only.
			"l3.dnsbl.test.": dnsbl("l3.dnsbl.test", map[string]string{"192.0.2.0": "127.0.0.2", "192.0.2.1": "127.0.0.2"}),
			// Listed, with the key the list requires; 192.0.2.10 is refused
			// (Spamhaus answers 127.255.255.254 to a public resolver).
			"zen.dnsbl.test.": append(dnsbl("k3y.zen.dnsbl.test", map[string]string{"198.51.100.9": "127.0.0.4", "192.0.2.10": "127.255.255.254"}),
				dnsbl("zen.dnsbl.test", map[string]string{"198.51.100.10": "127.0.0.2"})...),
		}
	}
	dns := harness.StartUnbound(t, harness.UnboundConfig{Zones: zones(map[string]string{"192.0.2.5": "127.0.0.2", "192.0.2.6": "127.0.0.2", "192.0.2.7": "127.0.0.2", "198.51.100.9": "127.0.0.2"})})
	cfg := config(dns.Addr)
	start := time.Now()
	code, out, errs := rp(t, bin, "listings", "-config", cfg, "--json")
	took := time.Since(start)
	ls := listingLines(t, out)
	want := []string{"l1.dnsbl.test 192.0.2.5 cust-five", "l1.dnsbl.test 192.0.2.6 cust-a", "l1.dnsbl.test 192.0.2.7 cust-a",
		"l1.dnsbl.test 198.51.100.9 cust-b", "l3.dnsbl.test 192.0.2.0 cust-a", "zen.dnsbl.test 198.51.100.9 cust-b"}
	if got := pick(ls, "listed"); code != 3 || !slices.Equal(got, want) || !slices.Equal(pick(ls, "new"), want) {
		t.Fatalf("first run: exit %d, listed %q, new %q\n%s%s", code, got, pick(ls, "new"), out, errs)
	}
	var per24, errLines []string
	for _, l := range ls {
		switch l.Type {
		case "per24":
			per24 = append(per24, fmt.Sprintf("%s %s %d %s", l.Zone, l.Net, l.Count, l.Level))
		case "error":
			errLines = append(errLines, l.Error)
		}
	}
	if !slices.Equal(per24, []string{"l1.dnsbl.test 192.0.2.0/24 3 warn", "l1.dnsbl.test 198.51.100.0/24 1 "}) {
		t.Errorf("per /24: %q", per24)
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "10.2.0.192.k3y.zen.dnsbl.test") || !strings.Contains(errLines[0], "127.255.255.254") {
		t.Errorf("errors: %q", errLines)
	}
	// 256+128 addresses for l1 and zen, a range start each for l3: the rate
	// (500/s) bounds how fast the resolver is asked.
	if queries := 2*(256+128) + 2; took < time.Duration(queries-1)*time.Second/500 {
		t.Errorf("%d queries in %v: faster than listings.rate", queries, took)
	}
	prom, _ := os.ReadFile(metrics)
	pc := exec.Command("promtool", "check", "metrics")
	pc.Stdin = strings.NewReader(string(prom))
	if out, err := pc.CombinedOutput(); err != nil || !strings.Contains(string(prom), `relayprobe_listed_addresses{zone="l1.dnsbl.test",name="Test L1"} 4`) ||
		!strings.Contains(string(prom), `relayprobe_listed_per24_max{zone="l1.dnsbl.test",name="Test L1"} 3`) {
		t.Errorf("metrics: %v %s\n%s", err, out, prom)
	}

	// Second run: .6 delisted, .8, .9 and .11 listed: five in the /24,
	// UCEPROTECT's Level 2 threshold ("more than 4").
	dns.Stop()
	dns = harness.StartUnbound(t, harness.UnboundConfig{Zones: zones(map[string]string{"192.0.2.5": "127.0.0.2", "192.0.2.7": "127.0.0.2", "192.0.2.8": "127.0.0.2",
		"192.0.2.9": "127.0.0.2", "192.0.2.11": "127.0.0.2", "198.51.100.9": "127.0.0.2"})})
	cfg = config(dns.Addr)
	code, out, errs = rp(t, bin, "listings", "-config", cfg, "--json")
	ls = listingLines(t, out)
	if code != 3 || !slices.Equal(pick(ls, "new"), []string{"l1.dnsbl.test 192.0.2.11 cust-a", "l1.dnsbl.test 192.0.2.8 cust-a", "l1.dnsbl.test 192.0.2.9 cust-a"}) ||
		!slices.Equal(pick(ls, "delisted"), []string{"l1.dnsbl.test 192.0.2.6 cust-a"}) {
		t.Errorf("second run: exit %d, new %q, delisted %q\n%s", code, pick(ls, "new"), pick(ls, "delisted"), errs)
	}
	if !slices.ContainsFunc(ls, func(l listingLine) bool {
		return l.Type == "per24" && l.Net == "192.0.2.0/24" && l.Count == 5 && l.Level == "escalation"
	}) {
		t.Errorf("second run: no escalation for 192.0.2.0/24\n%s", out)
	}
	alerts, _ := os.ReadFile(alertLog)
	if !strings.Contains(string(alerts), `"event":"relayprobe-listings"`) || !strings.Contains(string(alerts), `"level":"escalation"`) {
		t.Errorf("alerts:\n%s", alerts)
	}

	// Third run: the resolver is gone. Every query fails; nothing is
	// delisted, every listing stands.
	dns.Stop()
	code, out, errs = rp(t, bin, "listings", "-config", cfg, "--json")
	ls = listingLines(t, out)
	if code != 3 || len(pick(ls, "delisted")) != 0 || len(pick(ls, "listed")) != 8 {
		t.Errorf("resolver gone: exit %d, listed %q, delisted %q\n%s", code, pick(ls, "listed"), pick(ls, "delisted"), errs)
	}

	// The table for people: each listing with its customer, the failed
	// queries (the zone's test entry first: one error a zone).
	code, out, _ = rp(t, bin, "listings", "-config", cfg)
	if code != 3 || !regexp.MustCompile(`(?m)^192\.0\.2\.5 +Test L1 +127\.0\.0\.2 +\S+ +cust-five +-$`).MatchString(out) || !strings.Contains(out, "error     l1.dnsbl.test: ") {
		t.Errorf("table: exit %d\n%s", code, out)
	}

	// Kept for the next run, whole.
	var st probe.Listings
	b, _ := os.ReadFile(filepath.Join(dir, "listings.json"))
	if err := json.Unmarshal(b, &st); err != nil || len(st.Listed) != 8 {
		t.Errorf("listings.json: %v %d", err, len(st.Listed))
	}
}
