package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"outguard/internal/harness"
)

// The command as the abuse desk's scripts use it: exit status, JSON lines,
// X-ARF, diff, and a config error with its place.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	harness.StartWingate(t, "127.0.1.21:2323")
	cfg := filepath.Join(dir, "relayprobe.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`canary: {listen: "127.0.1.20:2525", address: "127.0.1.20:2525", domain: canary.test, wait: 2s}
targets: [127.0.1.21]
ports: {smtp: [2525], proxy: [3128], telnet: [2323]}
timeouts: {connect: 2s, reply: 2s}
helo: probe.isp.test
state_dir: %s
reporter: {org: ISP Test, contact: abuse@isp.test, domain: isp.test}
`, dir)), 0o644)
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := cli("-check-config", "-config", cfg); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check-config: %d %s %s", code, out, errs)
	}
	code, out, errs := cli("scan", "-config", cfg, "-json", "127.0.1.22")
	if code != 1 {
		t.Fatalf("scan: exit %d, want 1 (confirmed findings)\n%s%s", code, out, errs)
	}
	var f map[string]any
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &f) != nil {
		t.Fatalf("want one JSON line:\n%s", out)
	}
	if f["target"] != "127.0.1.21:2323" || f["service"] != "wingate" || f["result"] != "confirmed" || f["evidence"] == "" {
		t.Errorf("finding: %v", f)
	}
	code, out, errs = cli("scan", "-config", cfg, "-format", "xarf")
	if code != 1 || !strings.Contains(out, `"category":"vulnerability"`) || !strings.Contains(out, `"source_identifier":"127.0.1.21"`) {
		t.Errorf("xarf: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ = cli("diff", "-config", cfg); code != 0 || out != "no change\n" {
		t.Errorf("diff: %d %q", code, out)
	}
	// X-ARF without a reporter: refused before scanning; a source the host
	// does not have: refused by -check-config.
	noRep := filepath.Join(dir, "norep.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(noRep, []byte(strings.Replace(string(b), "reporter: {org: ISP Test, contact: abuse@isp.test, domain: isp.test}", "", 1)), 0o644)
	if code, out, errs := cli("scan", "-config", noRep, "-format", "xarf"); code != 2 || out != "" || !strings.Contains(errs, "reporter.org") {
		t.Errorf("xarf without a reporter: exit %d, %q %q", code, out, errs)
	}
	noSrc := filepath.Join(dir, "nosrc.yaml")
	os.WriteFile(noSrc, append(b, "source: 198.51.100.7\n"...), 0o644)
	if code, _, errs := cli("-check-config", "-config", noSrc); code != 2 || !strings.Contains(errs, "source 198.51.100.7 is not usable") {
		t.Errorf("check-config with a source the host lacks: exit %d, %q", code, errs)
	}
	// A listings.accounts command that is not there: refused by
	// -check-config, not found at the first listing.
	noCmd := filepath.Join(dir, "nocmd.yaml")
	os.WriteFile(noCmd, append(b, "listings: {ranges: [192.0.2.0/24], accounts: [no-such-milterctl, accounts, by-ip, --json]}\n"...), 0o644)
	if code, _, errs := cli("-check-config", "-config", noCmd); code != 2 || !strings.Contains(errs, "listings.accounts") || !strings.Contains(errs, "no-such-milterctl") {
		t.Errorf("check-config with a missing accounts command: exit %d, %q", code, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("canary: {address: 192.0.2.1:25, domain: c.test}\nhelo: p.test\nrate: -1\n"), 0o644)
	if code, _, errs := cli("scan", "-config", bad); code != 2 || !strings.Contains(errs, "bad.yaml:3: rate: must be above 0") {
		t.Errorf("bad config: exit %d, %q", code, errs)
	}
}

// relayprobe links no milterd code (docs/ARCHITECTURE.md): what it needs
// of milterd's state (the accounts of a listed address) comes through a
// command, listings.accounts.
func TestNoMilterdDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "outguard/cmd/relayprobe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "outguard/") {
			ours = append(ours, p)
		}
	}
	sort.Strings(ours)
	if want := "outguard/cmd/relayprobe outguard/internal/alert outguard/internal/yamlconf outguard/probe"; strings.Join(ours, " ") != want {
		t.Errorf("relayprobe imports %q, want only %q", ours, want)
	}
}
