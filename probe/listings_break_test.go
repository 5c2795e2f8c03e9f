package probe

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"outguard/internal/yamlconf"
)

// dnsbl serves answer on a loopback UDP port of the test's own (a fake:
// SERVFAIL and REFUSED on demand, which no real server gives for one name
// only) and returns its address and the number of queries it got.
func fakeDNSBL(t *testing.T, answer func(m *dns.Msg, qname string)) (string, *atomic.Int64) {
	return fakeDNSBLSilent(t, func(m *dns.Msg, qname string) bool { answer(m, qname); return true })
}

// fakeDNSBLSilent is fakeDNSBL whose answer may say to send nothing.
func fakeDNSBLSilent(t *testing.T, answer func(m *dns.Msg, qname string) bool) (string, *atomic.Int64) {
	pc, err := net.ListenPacket("udp", "127.0.126.53:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		n.Add(1)
		m := new(dns.Msg)
		m.SetReply(q)
		if answer(m, q.Question[0].Name) {
			w.WriteMsg(m)
		}
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), &n
}

func listA(m *dns.Msg, qname string) {
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 2)}}
}

// listsTestEntryOnly lists the zone's test entry (RFC 5782 5: 127.0.0.2)
// and nothing else (NXDOMAIN), as a working list answers for a range
// that is clean.
func listsTestEntryOnly(m *dns.Msg, qname string) {
	if strings.HasPrefix(qname, "2.0.0.127.") {
		listA(m, qname)
	} else {
		m.Rcode = dns.RcodeNameError
	}
}

func listingsLab(t *testing.T, resolver, rng string, rate float64) *Config {
	cfg := Default()
	cfg.StateDir = t.TempDir()
	cfg.Listings = &ListingsConfig{Ranges: []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix(rng))},
		Resolver: resolver, Rate: rate, Timeout: yamlconf.Duration(time.Second),
		Zones: []DNSBLZone{{Zone: "l1.test", Name: "L1", Form: FormIP, Codes: []string{"127.0.0.2"}, Per24: true}}, WarnPer24: 3, EscalationPer24: 5}
	os.WriteFile(filepath.Join(cfg.StateDir, "listings.json"), []byte(`{"listed":[{"addr":"192.0.2.1","zone":"l1.test","name":"L1","form":"ip","codes":["127.0.0.2"],"since":"2026-11-01T00:00:00Z"}]}`), 0o640)
	return cfg
}

// A listed address whose query now fails (SERVFAIL: the list's servers
// unreachable from the resolver; REFUSED) is not delisted: it keeps its
// listing and the run has an error. A resolver that refuses every query
// (an ACL that does not allow relayprobe's host) fails the test entries,
// so the list is not asked and nothing is delisted either.
func TestListingsFailureIsNoDelisting(t *testing.T) {
	for name, rcode := range map[string]func(qname string) int{
		"SERVFAIL for the address": func(q string) int {
			if strings.HasPrefix(q, "1.2.0.192.") {
				return dns.RcodeServerFailure
			}
			return -1
		},
		"REFUSED for the address": func(q string) int {
			if strings.HasPrefix(q, "1.2.0.192.") {
				return dns.RcodeRefused
			}
			return -1
		},
		"resolver refuses everything": func(string) int { return dns.RcodeRefused },
	} {
		t.Run(name, func(t *testing.T) {
			addr, _ := fakeDNSBL(t, func(m *dns.Msg, q string) {
				switch rc := rcode(q); {
				case rc >= 0:
					m.Rcode = rc
				case strings.HasPrefix(q, "2.0.0.127."):
					listA(m, q) // RFC 5782 5: the test entry
				default:
					m.Rcode = dns.RcodeNameError
				}
			})
			run, err := WatchListings(context.Background(), listingsLab(t, addr, "192.0.2.0/30", 1000), time.Now(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Delisted) != 0 || len(run.Listed) != 1 || run.Listed[0].Addr != netip.MustParseAddr("192.0.2.1") || len(run.Errors) != 1 {
				t.Errorf("delisted %v, listed %v, errors %v; want 192.0.2.1 kept and one error", run.Delisted, run.Listed, run.Errors)
			}
		})
	}
}

// listings.rate bounds the queries, counted at the server: in a run cut
// short after a second, at most rate+1 (the limiter's burst of one)
// reached it, however fast it answers; a run cut short keeps nothing.
func TestListingsRateBoundedByCount(t *testing.T) {
	addr, n := fakeDNSBL(t, listsTestEntryOnly)
	cfg := listingsLab(t, addr, "192.0.2.0/24", 20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := WatchListings(ctx, cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("run cut short: %v", err)
	}
	if got := n.Load(); got > 21 || got < 2 {
		t.Errorf("%d queries reached the resolver within a second at rate 20, want at most 21", got)
	}
	if b, _ := os.ReadFile(filepath.Join(cfg.StateDir, "listings.json")); !strings.Contains(string(b), "2026-11-01") {
		t.Errorf("a run cut short replaced the kept listings: %s", b)
	}
}

// A list that answers its test entries and then stops answering (it drops
// a querier it finds too busy) is given up after maxFailuresInARow
// failed queries in a row, counted at the server: the run ends after
// about that many, not after every address's two timeouts (a /16 would
// take hours and be killed by the unit, keeping nothing); its addresses
// keep their earlier state, and the run says so once.
func TestListingsSilentListGivenUp(t *testing.T) {
	addr, n := fakeDNSBLSilent(t, func(m *dns.Msg, q string) bool {
		switch {
		case strings.HasPrefix(q, "2.0.0.127."):
			listA(m, q)
		case strings.HasPrefix(q, "1.0.0.127."):
			m.Rcode = dns.RcodeNameError
		default:
			return false // dropped
		}
		return true
	})
	cfg := listingsLab(t, addr, "192.0.2.0/24", 1000)
	cfg.Listings.Timeout = yamlconf.Duration(200 * time.Millisecond)
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// The test entries, then at most the 32 failures in a row
	// (maxFailuresInARow) plus the 16 queries already under way, each
	// tried twice; 514 without giving up.
	if got, most := n.Load(), int64(2+2*(32+16)); got > most {
		t.Errorf("%d queries reached the silent list, want at most %d", got, most)
	}
	gaveUp := 0
	for _, e := range run.Errors {
		if strings.Contains(e, "gave up") {
			gaveUp++
		}
	}
	// The queries asked and failed are errors each; the ones not asked, one.
	if len(run.Delisted) != 0 || len(run.Listed) != 1 || gaveUp != 1 || len(run.Errors) > 32+16+1 {
		t.Errorf("listed %v, delisted %v, errors %q; want 192.0.2.1 kept and the zone given up once", run.Listed, run.Delisted, run.Errors)
	}
}
