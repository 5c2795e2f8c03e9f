package probe

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"outguard/internal/harness"
)

// The RPZ file is read by the resolver when it loads the zone: unbound
// (and BIND) read a zone file at start and when told to reload it, never
// on their own. block.files.reload tells them after the files are
// written, so a new block reaches the resolver at once: here Debian's
// unbound, loaded with the RPZ zone before the block, answers the blocked
// client NXDOMAIN after the run, and answers it again once the block is
// lifted. Before, the file was rewritten and no resolver applied it until
// someone restarted it.
func TestReviewRPZReachesTheResolver(t *testing.T) {
	harness.Require(t, "unbound-control")
	l := newBlockLab(t)
	const client = "127.0.31.7"
	l.cfg.Block.Files.RPZ = filepath.Join(l.dir, "rpz", "blocked.rpz")
	l.save(0, true, nil)
	l.enforce(1) // the zone, empty, for the resolver to start with
	pc, err := net.ListenPacket("udp", "127.0.31.53:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.0.2.80")
		r.Answer = append(r.Answer, rr)
		w.WriteMsg(r)
	})}
	go up.ActivateAndServe()
	defer up.Shutdown()
	u := harness.StartUnbound(t, harness.UnboundConfig{RPZ: []string{l.cfg.Block.Files.RPZ}, Control: true,
		Forward: strings.Replace(pc.LocalAddr().String(), ":", "@", 1)})
	l.cfg.Block.Files.Reload = []string{"unbound-control", "-c", u.Conf, "auth_zone_reload", "rpz0.test."}
	rcode := func() int {
		c := &dns.Client{Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(client)}}}
		m := new(dns.Msg)
		m.SetQuestion("www.customer.example.", dns.TypeA)
		r, _, err := c.Exchange(m, u.Addr)
		if err != nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	if rc := rcode(); rc != dns.RcodeSuccess {
		t.Fatalf("before the block: %s", dns.RcodeToString[rc])
	}
	l.save(2, true, []OpenService{{Target: client + ":25", Service: "smtp-relay", Result: Confirmed, Evidence: "250 queued"}})
	if e := l.enforce(3); len(e.Added) != 1 || len(e.Failures) != 0 {
		t.Fatalf("block: %+v", e)
	}
	if rc := rcode(); rc != dns.RcodeNameError {
		t.Errorf("blocked client answered %s by the resolver that loaded the RPZ zone, want NXDOMAIN", dns.RcodeToString[rc])
	}
	if e := l.enforce(2 + 7*24); len(e.Lifted) != 1 || len(e.Failures) != 0 {
		t.Fatalf("lift: %+v", e)
	}
	if rc := rcode(); rc != dns.RcodeSuccess {
		t.Errorf("lifted client answered %s", dns.RcodeToString[rc])
	}
	// A reload that fails is a backend failure (relayprobe block exits 3).
	l.cfg.Block.Files.Reload = []string{"unbound-control", "-c", filepath.Join(l.dir, "nonexistent.conf"), "auth_zone_reload", "rpz0.test."}
	if e := l.enforce(3 + 7*24); len(e.Failures) != 1 {
		t.Errorf("failed reload not reported: %+v", e.Failures)
	}
}
