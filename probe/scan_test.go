package probe

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A range where nothing listens: no findings, a progress line every
// config.progress addresses (the excluded one is not counted).
func TestScanNothingListens(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`
canary: {listen: "127.0.9.1:0", address: "127.0.9.1:2525", domain: canary.test, wait: 1s}
exclude: [127.0.8.3]
ports: {smtp: [2525], proxy: [3128], telnet: []}
rate: 1000
timeouts: {connect: 1s, reply: 1s}
helo: probe.isp.test
progress: 2
state_dir: /nonexistent
`))
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	can := NewCanary("canary.test", "", slog.New(slog.DiscardHandler))
	s := &Scanner{Config: cfg, Canary: can, Secret: can.Secret, Log: slog.New(slog.DiscardHandler), Progress: &progress}
	start := time.Now()
	fs, err := s.Scan(context.Background(), []netip.Prefix{netip.MustParsePrefix("127.0.8.0/30")})
	if err != nil || len(fs) != 0 {
		t.Fatalf("findings %v, %v", fs, err)
	}
	if got := strings.Count(progress.String(), "\n"); got != 1 || !strings.Contains(progress.String(), "2 addresses started") {
		t.Errorf("progress: %q (3 addresses, a line every 2)", progress.String())
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v with nothing listening", time.Since(start))
	}
}
