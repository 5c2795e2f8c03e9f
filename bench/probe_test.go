package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"outguard/internal/harness"
)

// BenchmarkProbeRange scans 127.0.0.0/22 (1 024 addresses, nothing
// listening on most) on the default ports at 2 000 attempts a second, as
// the relayprobe binary, and reports the elapsed time against what the rate
// implies, and relayprobe's peak RSS. Nothing else may listen on those
// addresses' default ports while it runs (it is not run by make test).
func BenchmarkProbeRange(b *testing.B) {
	dir := harness.Dir(b, "probe-bench")
	bin := harness.Build(b, dir, "relayprobe")
	cfg := filepath.Join(dir, "relayprobe.yaml")
	const rate, addrs, ports = 2000, 1024, 10 // default ports: 3 smtp, 6 proxy, 1 telnet
	os.WriteFile(cfg, []byte(fmt.Sprintf(`canary: {listen: "127.0.4.1:2525", address: "127.0.4.1:2525", domain: canary.test, wait: 5s}
targets: [127.0.0.0/22]
rate: %d
concurrency: 256
timeouts: {connect: 2s, reply: 3s}
helo: probe.isp.test
state_dir: %s
log: {level: warn}
`, rate, dir)), 0o644)
	implied := time.Duration(float64(addrs*ports) / rate * float64(time.Second))
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "scan", "-config", cfg, "-json")
		cmd.Stderr = os.Stderr
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("relayprobe: %v\n%s", err, out)
		}
		if len(out) != 0 {
			b.Logf("findings (something listens in the range):\n%s", out)
		}
		rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		b.ReportMetric(took.Seconds(), "scan_s")
		b.ReportMetric(took.Seconds()/implied.Seconds(), "ratio_to_rate")
		b.ReportMetric(rss, "peak_RSS_MiB")
	}
}
