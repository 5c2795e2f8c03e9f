package probe

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"outguard/internal/golden"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the .err files of testdata/relayprobe/bad")

// The example states every default; only the required keys differ.
func TestExampleStatesEveryDefault(t *testing.T) {
	c, err := Load("../etc/relayprobe.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Canary.Address, want.Canary.Domain, want.HELO = "192.0.2.10:25", "canary.isp.example", "probe.isp.example"
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) { // [] in YAML is an empty list, nil in Default
		t.Errorf("example config differs from the defaults:\n got %+v\nwant %+v", c, want)
	}
}

// Each bad config fixture fails with exactly the message in its .err file.
func TestBadConfigs(t *testing.T) {
	golden.BadConfigs(t, "../testdata/relayprobe/bad/*.yaml", "relayprobe.yaml", func(name string, data []byte) error {
		_, err := Parse(name, data)
		return err
	}, *update)
}

func TestEachAddr(t *testing.T) {
	p := func(s ...string) []netip.Prefix {
		ps, err := Prefixes(s)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	var got []string
	err := eachAddr(p("192.0.2.0/30", "192.0.2.2", "2001:db8::/127"), p("192.0.2.1"), func(a netip.Addr) bool {
		got = append(got, a.String())
		return true
	})
	want := "[192.0.2.0 192.0.2.2 192.0.2.3 2001:db8:: 2001:db8::1]" // excluded and repeated addresses once or never
	if err != nil || strings.Join(strings.Fields(strings.Trim(strings.Join(got, " "), "[]")), " ") != strings.Trim(want, "[]") {
		t.Errorf("got %v, %v; want %s", got, err, want)
	}
	if err := eachAddr(p("2001:db8::/64"), nil, func(netip.Addr) bool { return true }); err == nil {
		t.Error("a /64 was accepted as a target")
	}
	n := 0
	eachAddr(p("10.0.0.0/16"), nil, func(netip.Addr) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("stop after 3: went on to %d", n)
	}
}

func TestCustomers(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.csv")
	os.WriteFile(f, []byte("# range,customer\n192.0.2.0/24,C-100\n192.0.2.128/25,C-200\n"), 0o644)
	cs, err := loadCustomers(f)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{"192.0.2.5": "C-100", "192.0.2.200": "C-200", "198.51.100.1": ""} {
		if got := customerOf(cs, netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
	os.WriteFile(f, []byte("192.0.2.0/24,C-100\n192.0.2.999/32,C-200\n"), 0o644)
	if _, err := loadCustomers(f); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("bad line: %v, want an error at line 2", err)
	}
}

// The unit's TimeoutStartSec and RuntimeMaxSec leave the example's
// timeouts.scan and the alert time to end: the timer's next scan is never
// blocked by a hung one, and a scan is never killed before its own end.
func TestUnitFitsScanTimeout(t *testing.T) {
	c, err := Load("../etc/relayprobe.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("../etc/systemd/relayprobe.service")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^Type=oneshot$`).Match(unit) {
		t.Error("relayprobe.service is Type=oneshot: systemd ignores its RuntimeMaxSec")
	}
	need := time.Duration(c.Timeouts.Scan+c.Alert.Timeout) + time.Minute
	if c.Timeouts.Scan <= 0 {
		t.Fatal("the example has no timeouts.scan: the unit cannot fit it")
	}
	for _, key := range []string{"TimeoutStartSec", "RuntimeMaxSec"} {
		m := regexp.MustCompile(`(?m)^` + key + `=(.+)$`).FindStringSubmatch(string(unit))
		if m == nil {
			t.Errorf("relayprobe.service has no %s", key)
			continue
		}
		// systemd.time(7) time spans, as far as the unit uses them.
		var d time.Duration
		for _, p := range regexp.MustCompile(`(\d+)(h|min|s)`).FindAllStringSubmatch(m[1], -1) {
			n, _ := strconv.Atoi(p[1])
			d += time.Duration(n) * map[string]time.Duration{"h": time.Hour, "min": time.Minute, "s": time.Second}[p[2]]
		}
		if d < need {
			t.Errorf("%s=%s (%v) is below timeouts.scan + alert.timeout + 1m = %v", key, m[1], d, need)
		}
	}
}

// The example's block and listings sections, turned on as it says, parse
// and state the defaults: the zones given are DefaultZones.
func TestExampleBlockListings(t *testing.T) {
	b, err := os.ReadFile("../etc/relayprobe.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("example", []byte(strings.ReplaceAll(string(b), "\n#| ", "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Block == nil || time.Duration(c.Block.Duration) != 7*24*time.Hour || time.Duration(c.Block.Timeout) != 30*time.Second || c.Block.NFTables.Set != "outguard_blocked" {
		t.Errorf("block: %+v", c.Block)
	}
	l := c.Listings
	if l == nil || !reflect.DeepEqual(l.Zones, DefaultZones()) || l.Rate != 50 || l.WarnPer24 != 3 || l.EscalationPer24 != 5 ||
		time.Duration(l.Timeout) != 5*time.Second || l.Resolver != "127.0.0.1:53" {
		t.Errorf("listings: %+v", l)
	}
	if d, err := Load("../etc/relayprobe.example.yaml"); err != nil || d.Block != nil || d.Listings != nil {
		t.Errorf("the example as shipped turns on block or listings: %v", err)
	}
}
