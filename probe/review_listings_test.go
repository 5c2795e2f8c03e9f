package probe

import (
	"context"
	"log/slog"
	"net/netip"
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
	for name, answer := range map[string]func(m *dns.Msg, qname string){
		"truncated": func(m *dns.Msg, _ string) {
			m.Truncated = true // the records would not fit in UDP
		},
		"another question": func(m *dns.Msg, _ string) {
			m.Question[0].Name = "other.example."
		},
	} {
		t.Run(name, func(t *testing.T) {
			addr, _ := fakeDNSBL(t, answer)
			run := watchL1(t, addr, "192.0.2.1/32")
			if len(run.Delisted) != 0 || len(run.Listed) != 1 || len(run.Errors) != 1 {
				t.Errorf("%s: delisted %v, listed %v, errors %v; want the listing kept and the query an error", name, run.Delisted, run.Listed, run.Errors)
			}
		})
	}
}

// watchL1 runs the listings watch over rng on resolver, with zone l1.test
// (L1) and 192.0.2.1 listed there since 2026-11-01, as listingsLab sets
// it up but without counting per /24.
func watchL1(t *testing.T, resolver, rng string) *Listings {
	t.Helper()
	cfg := listingsLab(t, resolver, rng, 1000)
	cfg.Listings.Zones[0].Per24 = false
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return run
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
			addr, _ := fakeDNSBL(t, func(m *dns.Msg, qname string) {
				if listed(qname) {
					listA(m, qname)
				} else {
					m.Rcode = dns.RcodeNameError
				}
			})
			run := watchL1(t, addr, "192.0.2.0/30")
			if len(run.Delisted) != 0 || len(run.New) != 0 || len(run.Listed) != 1 || len(run.Errors) == 0 {
				t.Errorf("%s: delisted %v, new %v, listed %v, errors %v; want the listing kept and the zone an error", name, run.Delisted, run.New, run.Listed, run.Errors)
			}
		})
	}
}
