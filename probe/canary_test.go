package probe

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// talk runs one canary session over a pipe: it sends in, reads every reply
// until the canary hangs up, and returns the replies.
func talk(c *Canary, in string) string {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { c.session(server); server.Close(); close(done) }()
	var out strings.Builder
	read := make(chan struct{})
	go func() { io.Copy(&out, client); close(read) }()
	io.WriteString(client, in)
	// Everything was read (a pipe write returns once read). A session that
	// did not end with QUIT waits for more: hang up, as a client does.
	// One that ends with QUIT ends by itself, once it has answered.
	wait := 5 * time.Millisecond
	if strings.HasSuffix(in, "QUIT\r\n") {
		wait = 10 * time.Second
	}
	select {
	case <-done:
	case <-time.After(wait):
	}
	client.Close()
	<-done
	<-read
	return out.String()
}

func TestCanarySession(t *testing.T) {
	c := NewCanary("canary.test", nil, slog.New(slog.DiscardHandler))
	tok1, tok2 := c.Key.NewToken(), c.Key.NewToken()
	out := talk(c, "GET http://canary.test/"+tok1+" HTTP/1.0\r\nHost: x\r\n\r\n"+
		"EHLO relay.example\r\nMAIL FROM:<>\r\nRCPT TO:<"+tok2+"@canary.test>\r\nDATA\r\n"+
		"Received: from probe (probe [192.0.2.9])\r\n\tby relay.example; Sat, 28 Nov 2026 11:00:00 +0000\r\n"+
		"Subject: x\r\n\r\n..a dot-stuffed line\r\n.\r\nQUIT\r\n")
	if !strings.HasPrefix(out, "220 canary.test ESMTP relayprobe canary rpk") || !c.Key.proofIn(out) || !strings.Contains(out, "221 ") {
		t.Fatalf("session:\n%s", out)
	}
	a1, _ := c.Arrivals(context.Background(), tok1)
	a2, _ := c.Arrivals(context.Background(), tok2)
	if len(a1) != 1 || a1[0].Via != "connection" {
		t.Errorf("token in an HTTP request line: %+v", a1)
	}
	if len(a2) != 1 || a2[0].Via != "mail" || a2[0].Received != "Received: from probe (probe [192.0.2.9]) by relay.example; Sat, 28 Nov 2026 11:00:00 +0000" {
		t.Errorf("token in a relayed mail: %+v", a2)
	}
	// The API gives the same to a scanner that knows the secret, and
	// nothing to one that does not.
	srv := httptest.NewServer(c)
	defer srv.Close()
	got, err := remoteCanary{srv.URL, string(c.Key)}.Arrivals(context.Background(), tok2)
	if err != nil || len(got) != 1 || got[0].Via != "mail" {
		t.Errorf("api: %+v %v", got, err)
	}
	if _, err := (remoteCanary{srv.URL, "wrong"}).Arrivals(context.Background(), tok2); err == nil {
		t.Error("api answered a wrong secret")
	}
}

// The canary reads whatever anyone sends it; it must not fail on any of it.
func FuzzCanarySession(f *testing.F) {
	f.Add([]byte("EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<rp0123456789abcdef0123@c>\r\nDATA\r\nReceived: a\r\n b;\r\n\r\n.\r\nQUIT\r\n"))
	f.Add([]byte("POST http://x/ HTTP/1.0\r\n\r\nEHLO rp0123456789abcdef0123\r\n"))
	f.Add([]byte("DATA\r\n" + strings.Repeat("x", 5000) + "\r\n.\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := NewCanary("canary.test", Key("s"), slog.New(slog.DiscardHandler))
		out := talk(c, string(in))
		if !strings.HasPrefix(out, "220 ") {
			t.Fatalf("no banner: %q", out)
		}
	})
}

// Replies from scanned servers are hostile input too.
func FuzzReply(f *testing.F) {
	f.Add([]byte("250-first\r\n250-second\r\n250 last\r\n"))
	f.Add([]byte("220 host ESMTP\r\n"))
	f.Add([]byte("\xff\xfb\x01login: "))
	f.Fuzz(func(t *testing.T, in []byte) {
		cn := &conn{Conn: nopConn{}, r: bufio.NewReader(strings.NewReader(string(in))), timeout: time.Second}
		code, text, _ := cn.reply()
		if code < 0 || code > 999 || len(text) > len(in)+200 {
			t.Fatalf("reply %d %q from %q", code, text, in)
		}
		telnetText(in)
		// A banner from a scanned proxy: proofs are checked, never trusted.
		if k := Key("k"); k.proofIn(string(in)) {
			t.Fatalf("a proof of key k in %q", in)
		}
		if s := clean(string(in)); len(s) > 304 {
			t.Fatalf("clean gave %d bytes", len(s))
		}
	})
}

type nopConn struct{ net.Conn }

func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

func TestCompare(t *testing.T) {
	prev := &Scan{Targets: mustPrefixes("192.0.2.0/24"), Ports: Ports{"smtp": {25}, "proxy": {3128}},
		Findings: []OpenService{
			{Target: "192.0.2.1:25", Service: "smtp-relay", Result: Confirmed},
			{Target: "192.0.2.2:3128", Service: "http-connect", Result: Suspected},
			{Target: "192.0.2.3:25", Service: "smtp-relay", Result: Confirmed},
		}}
	cur := &Scan{Targets: mustPrefixes("192.0.2.1", "192.0.2.2"), Ports: prev.Ports,
		Findings: []OpenService{
			{Target: "192.0.2.2:3128", Service: "http-connect", Result: Confirmed}, // now confirmed: new
		}}
	d := Compare(knownOf(prev), cur)
	// 192.0.2.1 was scanned again and is closed: fixed. 192.0.2.3 was not
	// scanned again: neither fixed nor anything else.
	if len(d.New) != 1 || d.New[0].Target != "192.0.2.2:3128" || len(d.Fixed) != 1 || d.Fixed[0].Target != "192.0.2.1:25" {
		t.Errorf("diff: %+v", d)
	}
}

// Each target is compared with its last known state, from the scans that
// tested it: a narrow re-check in between updates only its own targets, a
// target that was unreachable keeps its earlier state, and an unhealthy
// scan declares nothing fixed. Before, diff compared with the previous
// scan only: after a re-check of one address, the next full scan called a
// known relay new and missed a fix.
func TestCompareLastKnown(t *testing.T) {
	ports := Ports{"smtp": {25}}
	relay := func(ip string) OpenService {
		return OpenService{Target: ip + ":25", Service: "smtp-relay", Result: Confirmed}
	}
	full := &Scan{Targets: mustPrefixes("192.0.2.0/24"), Ports: ports, Findings: []OpenService{relay("192.0.2.1"), relay("192.0.2.2"), relay("192.0.2.3")}}
	recheck := &Scan{Targets: mustPrefixes("192.0.2.1"), Ports: ports, Findings: []OpenService{relay("192.0.2.1")}}
	// The next full scan: .1 and .2 still open, .3 closed.
	next := &Scan{Targets: mustPrefixes("192.0.2.0/24"), Ports: ports, Findings: []OpenService{relay("192.0.2.1"), relay("192.0.2.2")}}
	d := Compare(knownOf(full, recheck), next)
	if len(d.New) != 0 || len(d.Fixed) != 1 || d.Fixed[0].Target != "192.0.2.3:25" {
		t.Errorf("full scan after a narrow re-check: %s", d)
	}

	// .2 unreachable in a scan (healthy overall): not fixed; and the scan
	// after that, finding it open again, does not call it new.
	unreach := &Scan{Targets: mustPrefixes("192.0.2.0/24"), Ports: ports, Findings: []OpenService{relay("192.0.2.1")},
		Outcomes: []Outcome{{Target: "192.0.2.2:25", State: Unreachable}}}
	if d := Compare(knownOf(full, recheck, next), unreach); len(d.New)+len(d.Fixed) != 0 {
		t.Errorf("a relay unreachable: %s", d)
	}
	again := &Scan{Targets: mustPrefixes("192.0.2.2"), Ports: ports, Findings: []OpenService{relay("192.0.2.2")}}
	if d := Compare(knownOf(full, recheck, next, unreach), again); len(d.New)+len(d.Fixed) != 0 {
		t.Errorf("a relay reachable again: %s", d)
	}

	// An unhealthy scan finding nothing: nothing fixed, and it is no
	// known state either: the next healthy scan finding .1 closed says so.
	sick := &Scan{Targets: mustPrefixes("192.0.2.0/24"), Ports: ports, Problems: []string{"source not usable"}}
	if d := Compare(knownOf(next, unreach, again), sick); len(d.Fixed) != 0 || len(d.Problems) != 1 || !strings.Contains(d.String(), "nothing is declared fixed") {
		t.Errorf("unhealthy scan: %s", d)
	}
	healthy := &Scan{Targets: mustPrefixes("192.0.2.1"), Ports: ports}
	if d := Compare(knownOf(next, unreach, again, sick), healthy); len(d.Fixed) != 1 || d.Fixed[0].Target != "192.0.2.1:25" {
		t.Errorf("healthy scan after an unhealthy one: %s", d)
	}
}

// knownOf is the last known state after scans, oldest first.
func knownOf(scans ...*Scan) Known {
	k := Known{}
	for _, sc := range scans {
		k.Apply(sc)
	}
	return k
}

func mustPrefixes(s ...string) []netip.Prefix {
	ps, err := Prefixes(s)
	if err != nil {
		panic(err)
	}
	return ps
}

// X-ARF: one report per confirmed finding, with the fields the v4 core
// schema requires, and the evidence in base64.
func TestXARF(t *testing.T) {
	var b strings.Builder
	fs := []OpenService{
		{Time: time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC), Target: "192.0.2.1:25", Service: "smtp-relay", Result: Confirmed, Test: "null sender", Evidence: "MAIL FROM:<> ...", Customer: "C 100"},
		{Target: "192.0.2.2:3128", Service: "http-connect", Result: Suspected},
	}
	if err := WriteXARF(&b, fs, Reporter{Org: "ISP", Contact: "abuse@isp.test", Domain: "isp.test"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d reports, want 1 (confirmed only):\n%s", len(lines), b.String())
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"xarf_version", "report_id", "timestamp", "reporter", "sender", "source_identifier", "category", "type", "service"} {
		if r[k] == nil || r[k] == "" {
			t.Errorf("missing %s", k)
		}
	}
	if r["category"] != "vulnerability" || r["type"] != "open_service" || r["source_identifier"] != "192.0.2.1" || r["source_port"] != 25.0 {
		t.Errorf("report: %s", lines[0])
	}
	ev := r["evidence"].([]any)[0].(map[string]any)
	payload, _ := base64.StdEncoding.DecodeString(ev["payload"].(string))
	if string(payload) != "null sender: MAIL FROM:<> ..." || r["tags"].([]any)[0] != "customer:c-100" {
		t.Errorf("evidence %q, tags %v", payload, r["tags"])
	}
}

// A scan file is whole or absent: Save leaves no temporary file, and a
// temporary file a crash left behind (or any file not named *.json) is
// never read as a scan.
func TestSaveWhole(t *testing.T) {
	dir := t.TempDir()
	sc := &Scan{Started: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), Targets: mustPrefixes("192.0.2.1"), Ports: Ports{"smtp": {25}},
		Findings: []OpenService{{Target: "192.0.2.1:25", Service: "smtp-relay", Result: Confirmed}}}
	if err := sc.Save(dir); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "scans", "*"))
	if len(names) != 1 || names[0] != sc.File {
		t.Errorf("scans/: %v, want only %s", names, sc.File)
	}
	os.WriteFile(filepath.Join(dir, "scans", ".scan-crashed.tmp"), []byte(`{"findings":[{"target":"192.0.2.9:25","serv`), 0o640)
	k, err := LoadKnown(dir, slog.New(slog.DiscardHandler))
	if err != nil || len(k) != 1 || len(k["192.0.2.1:25"]) != 1 {
		t.Errorf("known after a crash left a temporary file: %v %v", k, err)
	}
	if fi, err := os.Stat(sc.File); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("scan file: %v %v", fi, err)
	}
}
