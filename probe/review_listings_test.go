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

	"github.com/miekg/dns"

	"outguard/internal/yamlconf"
)

// A resolver whose answers say nothing (truncated without its records,
// or about another name) must not read as "not listed": the listed
// address is not delisted.
func TestReviewListingsUselessAnswerIsNotDelisting(t *testing.T) {
	for name, answer := range map[string]func(w dns.ResponseWriter, q *dns.Msg){
		"truncated": func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			m.Truncated = true // the records would not fit in UDP
			w.WriteMsg(m)
		},
		"another question": func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			m.Question[0].Name = "other.example."
			w.WriteMsg(m)
		},
	} {
		t.Run(name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.126.53:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(answer)}
			go srv.ActivateAndServe()
			defer srv.Shutdown()
			dir := t.TempDir()
			cfg := Default()
			cfg.StateDir = dir
			cfg.Listings = &ListingsConfig{Ranges: []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.1/32"))},
				Resolver: pc.LocalAddr().String(), Rate: 1000, Timeout: yamlconf.Duration(time.Second),
				Zones: []DNSBLZone{{Zone: "l1.test", Name: "L1", Form: FormIP, Codes: []string{"127.0.0.2"}}}, WarnPer24: 3, EscalationPer24: 5}
			os.WriteFile(filepath.Join(dir, "listings.json"), []byte(`{"listed":[{"addr":"192.0.2.1","zone":"l1.test","name":"L1","form":"ip","codes":["127.0.0.2"],"since":"2026-11-01T00:00:00Z"}]}`), 0o640)
			run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Delisted) != 0 || len(run.Listed) != 1 || len(run.Errors) != 1 {
				t.Errorf("%s: delisted %v, listed %v, errors %v; want the listing kept and the query an error", name, run.Delisted, run.Listed, run.Errors)
			}
		})
	}
}

// A truncated UDP answer is asked again over TCP, which gives the listing.
func TestReviewListingsTruncatedRetriedOverTCP(t *testing.T) {
	addr, _ := truncatingDNSBL(t, func(m *dns.Msg, q string) {
		if strings.HasPrefix(q, "1.0.0.127.") {
			m.Rcode = dns.RcodeNameError // RFC 5782 5: never listed
		} else {
			listA(m, q)
		}
	})
	cfg := Default()
	cfg.StateDir = t.TempDir()
	cfg.Listings = &ListingsConfig{Ranges: []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.1/32"))},
		Resolver: addr, Rate: 1000, Timeout: yamlconf.Duration(time.Second),
		Zones: []DNSBLZone{{Zone: "l1.test", Name: "L1", Form: FormIP, Codes: []string{"127.0.0.2"}}}, WarnPer24: 3, EscalationPer24: 5}
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Listed) != 1 || len(run.Errors) != 0 {
		t.Errorf("truncated, then over TCP: listed %v, errors %v", run.Listed, run.Errors)
	}
}

// A list that stopped answering for the resolver (it refuses public or
// unregistered resolvers with NXDOMAIN for every name, or was shut down)
// is seen by its test entry (RFC 5782 5: 127.0.0.2 listed, 127.0.0.1
// not): its silence is no delisting. Likewise a list that lists
// everything.
func TestReviewListingsDeadListIsNotDelisting(t *testing.T) {
	for name, listed := range map[string]func(qname string) bool{
		"answers nothing":  func(string) bool { return false },
		"lists everything": func(string) bool { return true },
	} {
		t.Run(name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.126.53:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
				m := new(dns.Msg)
				m.SetReply(q)
				if listed(q.Question[0].Name) {
					m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 2)}}
				} else {
					m.Rcode = dns.RcodeNameError
				}
				w.WriteMsg(m)
			})}
			go srv.ActivateAndServe()
			defer srv.Shutdown()
			dir := t.TempDir()
			cfg := Default()
			cfg.StateDir = dir
			cfg.Listings = &ListingsConfig{Ranges: []yamlconf.Prefix{yamlconf.Prefix(netip.MustParsePrefix("192.0.2.0/30"))},
				Resolver: pc.LocalAddr().String(), Rate: 1000, Timeout: yamlconf.Duration(time.Second),
				Zones: []DNSBLZone{{Zone: "l1.test", Name: "L1", Form: FormIP, Codes: []string{"127.0.0.2"}}}, WarnPer24: 3, EscalationPer24: 5}
			os.WriteFile(filepath.Join(dir, "listings.json"), []byte(`{"listed":[{"addr":"192.0.2.1","zone":"l1.test","name":"L1","form":"ip","codes":["127.0.0.2"],"since":"2026-11-01T00:00:00Z"}]}`), 0o640)
			run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Delisted) != 0 || len(run.New) != 0 || len(run.Listed) != 1 || len(run.Errors) == 0 {
				t.Errorf("%s: delisted %v, new %v, listed %v, errors %v; want the listing kept and the zone an error", name, run.Delisted, run.New, run.Listed, run.Errors)
			}
		})
	}
}
