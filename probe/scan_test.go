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
	can := NewCanary("canary.test", nil, slog.New(slog.DiscardHandler))
	s := &Scanner{Config: cfg, Canary: can, Key: can.Key, Log: slog.New(slog.DiscardHandler), Progress: &progress}
	start := time.Now()
	sc, err := s.Scan(context.Background(), []netip.Prefix{netip.MustParsePrefix("127.0.8.0/30")})
	if err != nil || len(sc.Findings) != 0 {
		t.Fatalf("findings %v, %v", sc.Findings, err)
	}
	if got := strings.Count(progress.String(), "\n"); got != 1 || !strings.Contains(progress.String(), "2 addresses started") {
		t.Errorf("progress: %q (3 addresses, a line every 2)", progress.String())
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v with nothing listening", time.Since(start))
	}
}

func TestRelayForms(t *testing.T) {
	if len(relayForms) != 16 {
		t.Errorf("%d relay forms; nmap's smtp-open-relay has 16", len(relayForms))
	}
	for addr, want := range map[string]string{"192.0.2.1": "rp1%canary.test@[192.0.2.1]", "2001:db8::1": "rp1%canary.test@[IPv6:2001:db8::1]", "::ffff:192.0.2.1": "rp1%canary.test@[192.0.2.1]"} {
		if got := expand("{T}%{D}@{IP}", "canary.test", "rp1", addressLiteral(netip.MustParseAddr(addr)), "mx"); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}
