package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/probe"
)

func labConfig(t *testing.T, dir string, targets ...string) *probe.Config {
	alertFile := filepath.Join(dir, "alert.json")
	yaml := fmt.Sprintf(`
canary: {listen: %q, address: %q, domain: canary.test, wait: 10s}
targets: [%s]
exclude: [127.0.0.0/31]
ports: {smtp: %v, proxy: %v, telnet: %v}
rate: 200
concurrency: 64
timeouts: {connect: 2s, reply: 3s}
helo: probe.isp.test
source: 127.0.0.1
info_url: https://isp.test/relay-scan
state_dir: %s
reporter: {org: ISP Test, contact: abuse@isp.test, domain: isp.test}
alert: {command: [sh, -c, 'cat > "$0"', %q]}
`, harness.LabCanary, harness.LabCanary, strings.Join(targets, ", "),
		jsonList(harness.LabPorts.SMTP), jsonList(harness.LabPorts.Proxy), jsonList(harness.LabPorts.Telnet), dir, alertFile)
	cfg, err := probe.Parse("lab.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func jsonList(v []int) string { b, _ := json.Marshal(v); return string(b) }

// TestLab scans the loopback lab: exactly the open relays and proxies are
// confirmed, the accept-all server and the fake proxy are suspected at
// most, nothing else is reported, and the scan ends within its timeouts
// despite the tarpit. A second scan after the Wingate is closed reports it
// fixed, to the alert command.
func TestLab(t *testing.T) {
	harness.Require(t, "nmap")
	lab := harness.StartRelayLab(t)
	dir := t.TempDir()
	cfg := labConfig(t, dir, "127.0.0.0/27")
	log := harness.Logger(t, &harness.LogBuffer{})
	start := time.Now()
	scan, diff, err := probe.RunScan(context.Background(), cfg, nil, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	got := map[string]probe.OpenService{}
	for _, f := range scan.Findings {
		t.Logf("%s %s %s %s: %s", f.Target, f.Service, f.Result, f.Test, f.Evidence)
		got[f.Target] = f
	}
	want := map[string]string{ // target -> service result
		harness.LabOpenRelay:    "smtp-relay confirmed",
		harness.LabPercentRelay: "smtp-relay confirmed",
		harness.LabAcceptAll:    "smtp-relay suspected",
		harness.LabTinyOpen:     "http-connect confirmed",
		harness.LabDanteOpen:    "socks4 confirmed",
		harness.LabDante5:       "socks5 confirmed",
		harness.LabMicrosocks:   "socks5 confirmed",
		harness.LabFakeProxy:    "http-connect suspected",
		harness.LabTinyForward:  "http-post confirmed",
		harness.LabWingate:      "wingate confirmed",
	}
	for target, w := range want {
		f, ok := got[target]
		if !ok || f.Service+" "+f.Result != w {
			t.Errorf("%s: got %q, want %q", target, f.Service+" "+f.Result, w)
		}
	}
	for target := range got {
		if _, ok := want[target]; !ok {
			t.Errorf("%s: reported (%s %s), want nothing", target, got[target].Service, got[target].Result)
		}
	}
	if f := got[harness.LabPercentRelay]; !strings.Contains(f.Test, "percent") {
		t.Errorf("percent-hack relay confirmed by %q, want a percent hack form\n%s", f.Test, lab.PercentRelay.LogText())
	}
	if f := got[harness.LabOpenRelay]; !strings.Contains(f.Evidence, "Received: from probe.isp.test") {
		t.Errorf("open relay evidence lacks the relay's Received line: %s", f.Evidence)
	}
	// Bounded: probes end at the reply timeout (3 s) and relayed mail is
	// waited for at most canary.wait (10 s); generous slack for a loaded
	// machine, far below what an unbounded tarpit would take.
	if took > 45*time.Second {
		t.Errorf("scan took %v", took)
	}
	// Every target ends in a state: the tarpit's four ports unreachable
	// (connected, no answer), the open ones open, every other closed;
	// the scan is healthy.
	total := 0
	for _, n := range scan.Counts {
		total += n
	}
	t.Logf("outcomes: %v; not tested to the end: %+v", scan.Counts, scan.Outcomes)
	if !scan.Healthy() || total != 29*4 || scan.Counts[probe.Open] != len(want) || scan.Counts[probe.Unreachable] != 4 || scan.Counts[probe.Error] != 0 {
		t.Errorf("outcomes %v (want %d open, 4 unreachable, the rest of %d closed), problems %q", scan.Counts, len(want), 29*4, scan.Problems)
	}
	for _, o := range scan.Outcomes {
		if !strings.HasPrefix(o.Target, harness.LabTarpit+":") || o.State != probe.Unreachable {
			t.Errorf("outcome %+v: only the tarpit is left untested", o)
		}
	}
	if len(diff.New) != len(want) || len(diff.Fixed) != 0 {
		t.Errorf("first scan: %d new, %d fixed; want %d new", len(diff.New), len(diff.Fixed), len(want))
	}
	compareNmap(t, got)

	// The Wingate is fixed; a narrower second scan says so, and says
	// nothing of what it did not scan again.
	lab.CloseWingate()
	cfg2 := labConfig(t, dir, harness.LabWingate[:strings.IndexByte(harness.LabWingate, ':')], "127.0.0.3")
	_, diff, err = probe.RunScan(context.Background(), cfg2, nil, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff.New) != 0 || len(diff.Fixed) != 1 || diff.Fixed[0].Target != harness.LabWingate {
		t.Fatalf("second scan diff: %+v", diff)
	}
	b, err := os.ReadFile(filepath.Join(dir, "alert.json"))
	if err != nil || !strings.Contains(string(b), `"fixed":[{`) || !strings.Contains(string(b), harness.LabWingate) {
		t.Fatalf("alert: %s %v", b, err)
	}
}

// compareNmap runs nmap's smtp-open-relay on the same SMTP targets and
// records where it disagrees with relayprobe. Expected: nmap calls the
// accept-all smtp-sink open (it never sends DATA, so it cannot tell a
// server that discards from one that relays); relayprobe calls it
// suspected. On the others both agree.
func compareNmap(t *testing.T, ours map[string]probe.OpenService) {
	// "+": run the script whatever nmap thinks port 2525 is.
	out, err := exec.Command("nmap", "-Pn", "-n", "-p", "2525", "--script", "+smtp-open-relay",
		"--script-args", "smtp-open-relay.domain=canary.test", "127.0.0.3-6").CombinedOutput()
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, out)
	}
	nmapOpen := map[string]bool{}
	host := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := regexp.MustCompile(`Nmap scan report for (\S+)`).FindStringSubmatch(line); m != nil {
			host = m[1]
		}
		if strings.Contains(line, "Server is an open relay") {
			nmapOpen[host+":2525"] = true
		}
	}
	var disagree []string
	for _, target := range []string{harness.LabOpenRelay, harness.LabPercentRelay, harness.LabClosedRelay, harness.LabAcceptAll} {
		f, found := ours[target]
		oursOpen := found && f.Result == probe.Confirmed
		if oursOpen != nmapOpen[target] {
			disagree = append(disagree, fmt.Sprintf("%s: nmap open=%v, relayprobe %s", target, nmapOpen[target], f.Result))
		}
	}
	t.Logf("nmap vs relayprobe: %v\n%s", disagree, out)
	want := []string{harness.LabAcceptAll + ": nmap open=true, relayprobe suspected"}
	if fmt.Sprint(disagree) != fmt.Sprint(want) {
		t.Errorf("disagreements with nmap: %q, want %q", disagree, want)
	}
}
