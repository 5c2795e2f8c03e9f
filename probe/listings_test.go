package probe

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/yamlconf"
)

// A resolver that takes queries and never answers (a firewall dropping
// them, an overloaded server): every query ends at listings.timeout, once
// retried, and the run ends; its addresses keep their earlier state, so
// nothing is delisted. Before the retry and the kept state, a lost answer
// read as "not listed".
func TestListingsSilentResolver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan int, 1)
	go func() {
		n, buf := 0, make([]byte, 512)
		for {
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	dir := t.TempDir()
	cfg := Default()
	cfg.StateDir = dir
	cfg.Listings = &ListingsConfig{Ranges: []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.0/30"))},
		Resolver: pc.LocalAddr().String(), Rate: 1000, Timeout: yamlconf.Duration(300 * time.Millisecond),
		Zones: []DNSBLZone{{Zone: "l1.test", Name: "L1", Form: FormIP, Codes: []string{"127.0.0.2"}, Per24: true}}, WarnPer24: 3, EscalationPer24: 5}
	os.WriteFile(filepath.Join(dir, "listings.json"), []byte(`{"listed":[{"addr":"192.0.2.1","zone":"l1.test","name":"L1","form":"ip","codes":["127.0.0.2"],"since":"2026-11-01T00:00:00Z"}]}`), 0o640)
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// The zone's test entry (RFC 5782) is asked first: it times out, so
	// the zone is not asked about the range at all.
	if len(run.Errors) != 1 || len(run.Delisted) != 0 || len(run.Listed) != 1 || !run.Listed[0].Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("silent resolver: %+v", run)
	}
	if !strings.Contains(run.Errors[0], "timeout") {
		t.Errorf("error: %q", run.Errors[0])
	}
	pc.SetReadDeadline(time.Now()) // end the reader now
	if n := <-got; n != 2 {
		t.Errorf("%d queries reached the resolver, want the test entry's and one retry", n)
	}
}
