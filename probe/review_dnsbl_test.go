package probe

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"outguard/internal/harness"
)

// Review of #30: DNS answers as real resolvers give them, and the rate.

// A listing answered through a CNAME (a list that aliases its entries:
// the resolver follows the alias and gives the CNAME and the A record of
// its target, RFC 1034 3.6.2) is a listing, as Debian's unbound answers it
// for a list server (the test's own on loopback) that aliases 192.0.2.7.
// Before, only A records owned by the query name counted, so the listed
// address read as not listed: a false delisting.
func TestReviewListingsCNAMEAnswerIsListed(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.126.53:0")
	if err != nil {
		t.Fatal(err)
	}
	list := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		switch name := strings.ToLower(q.Question[0].Name); name {
		case "2.0.0.127.l1.example.", "listed.l1.example.":
			listA(m, q.Question[0].Name)
		case "7.2.0.192.l1.example.":
			m.Answer = []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "listed.l1.example."}}
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go list.ActivateAndServe()
	defer list.Shutdown()
	u := harness.StartUnbound(t, harness.UnboundConfig{Forward: strings.Replace(pc.LocalAddr().String(), ":", "@", 1)})
	cfg := listingsLab(t, u.Addr, "192.0.2.0/29", 1000)
	cfg.Listings.Zones[0].Zone = "l1.example" // unbound serves test. itself (RFC 6761)
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, l := range run.Listed {
		listed = append(listed, l.Addr.String())
	}
	if strings.Join(listed, " ") != "192.0.2.7" || len(run.Errors) != 0 {
		t.Errorf("listed %v, errors %v; want 192.0.2.7 (through its CNAME)", listed, run.Errors)
	}
}

// listings.rate bounds every query that reaches the resolver, the second
// try over TCP of a truncated answer (RFC 7766) included: with every
// answer truncated, at most rate+1 reached it in a second. Before, the
// TCP query went at once, outside the limiter: twice the rate.
func TestReviewListingsRateCountsTCPRetry(t *testing.T) {
	addr, n := truncatingDNSBL(t, listsTestEntryOnly)
	cfg := listingsLab(t, addr, "192.0.2.0/24", 20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := WatchListings(ctx, cfg, time.Now(), slog.New(slog.DiscardHandler)); !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "deadline")) {
		t.Fatalf("run cut short: %v", err)
	}
	if got := n.Load(); got > 21 || got < 4 {
		t.Errorf("%d queries (UDP and TCP) reached the resolver within a second at rate 20, want at most 21", got)
	}
}

// truncatingDNSBL truncates every answer over UDP (a fake: no real server
// truncates an answer that fits on demand) and gives answer's over TCP;
// it returns its address and the queries it got, UDP and TCP.
func truncatingDNSBL(t *testing.T, answer func(m *dns.Msg, qname string)) (string, *atomic.Int64) {
	l, err := net.Listen("tcp", "127.0.126.53:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		n.Add(1)
		m := new(dns.Msg)
		m.SetReply(q)
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncated = true
		} else {
			answer(m, q.Question[0].Name)
		}
		w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String(), &n
}
