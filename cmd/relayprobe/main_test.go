package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("canary: {address: 192.0.2.1:25, domain: c.test}\nhelo: p.test\nrate: -1\n"), 0o644)
	if code, _, errs := cli("scan", "-config", bad); code != 2 || !strings.Contains(errs, "bad.yaml:3: rate: must be above 0") {
		t.Errorf("bad config: exit %d, %q", code, errs)
	}
}
