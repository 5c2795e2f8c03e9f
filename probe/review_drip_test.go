package probe

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A resolver that truncates over UDP and then drips its TCP answer a byte
// a second (a middlebox, a resolver under attack) costs a query its
// listings.timeout, not the drip's length: the run ends, the zone's
// listing kept (a failed query is no delisting).
func TestReviewListingsDrippingTCPBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.126.53:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Truncated = true
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for i := 0; i < 120; i++ { // a length of 0xffff, then a byte a second
					if _, err := c.Write([]byte{0xff}); err != nil {
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
				}
			}()
		}
	}()
	cfg := listingsLab(t, pc.LocalAddr().String(), "192.0.2.0/30", 1000)
	start := time.Now()
	run, err := WatchListings(context.Background(), cfg, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("run took %v with listings.timeout 1s against a dripping resolver", d)
	}
	if len(run.Delisted) != 0 || len(run.Listed) != 1 || len(run.Errors) == 0 || !strings.Contains(strings.Join(run.Errors, " "), "l1.test") {
		t.Errorf("dripping resolver: listed %v delisted %v errors %v", run.Listed, run.Delisted, run.Errors)
	}
}
