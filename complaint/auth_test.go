package complaint_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "outguard/complaint"
	"outguard/internal/harness"
	"outguard/limits"
)

// The keys of the tests' feedback loops: fbl.test (configured), other.test
// (a real receiver, not configured), and a forger's key claiming
// fbl.test that DNS does not serve. Made once: RSA 2048 takes a while.
var (
	dkimOnce                    sync.Once
	fblKey, otherKey, forgerKey *harness.DKIMKey
)

// feedbackLoops starts Debian's unbound serving fbl.test's and
// other.test's DKIM keys and returns the configuration trusting fbl.test
// (and mx.isp.test's Authentication-Results), and the server.
func feedbackLoops(t *testing.T) (FeedbackLoops, *harness.Unbound) {
	dkimOnce.Do(func() {
		fblKey, otherKey, forgerKey = harness.NewDKIMKey(t, "fbl.test"), harness.NewDKIMKey(t, "other.test"), harness.NewDKIMKey(t, "fbl.test")
	})
	u := harness.StartUnbound(t, harness.UnboundConfig{Zones: map[string][]string{
		fblKey.Zone(): {fblKey.Record()}, otherKey.Zone(): {otherKey.Record()},
	}})
	return FeedbackLoops{Domains: []string{"fbl.test"}, AuthServID: "mx.isp.test", Resolver: u.Addr}, u
}

// sqliteEngine is a limits engine on a SQLite store of the test's.
func sqliteEngine(t *testing.T, perDay int) (*limits.Engine, limits.Store) {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pol, _ := limits.NewPolicy(limits.Limits{ComplaintsPerDay: perDay}, nil)
	return &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Accounts: limits.Accounts{Host: "h1"}}, st
}

// Only a report authenticated as a configured feedback loop's counts, by
// a DKIM signature verified against the key its DNS serves (a real
// unbound) or by the topmost Authentication-Results of our own inbound
// MTA. Each forgery below quotes a genuine, fresh reference of alice's and
// is kept with its reason, counted for no one: a signature claiming
// fbl.test made with another key, a genuine signature over an altered
// body or with the reference swapped for another, a valid signature of a
// receiver not configured, an unsigned report, an Authentication-Results
// of another authserv-id on top, a pass of ours injected below our
// topmost field, our pass for a domain not configured. A forged report
// about a message does not stand in for the genuine one that comes
// later. Before: every one of them counted for alice.
func TestFeedbackLoopAuthentication(t *testing.T) {
	loops, _ := feedbackLoops(t)
	ks := TestKeys(t, 1)
	e, st := sqliteEngine(t, 0)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: loops, Record: e}
	n := 0
	arf := func() (Ref, []byte) {
		n++
		r := AliceRef
		r.QueueID, r.Time = fmt.Sprint("Q", n), time.Now()
		ref, err := ks.Seal(r)
		if err != nil {
			t.Fatal(err)
		}
		return r, ReportOf(t, "arf-full.eml", ref)
	}
	ar := func(v string) []byte { return []byte("Authentication-Results: " + v + "\r\n") }
	ingest := func(raw []byte) Result {
		t.Helper()
		res, err := in.Ingest(context.Background(), bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	_, genuine := arf()
	genuine = fblKey.Sign(t, genuine, "")
	if c := ingest(genuine).Complaint; c.Account != AliceRef.Account || c.FBL != "fbl.test" || c.Problem != "" {
		t.Fatalf("genuine report: %+v", c)
	}
	// As Postfix's pipe(8) with flag F delivers it: LF line ends, a From_ line.
	_, piped := arf()
	piped = fblKey.Sign(t, piped, "")
	piped = append([]byte("From staff@fbl.test  Mon Nov 30 10:00:00 2026\n"), bytes.ReplaceAll(piped, []byte("\r\n"), []byte("\n"))...)
	if c := ingest(piped).Complaint; c.Account != AliceRef.Account {
		t.Fatalf("piped genuine report: %+v", c)
	}
	// Signed by fbl.test and trusted by our inbound MTA's topmost field.
	_, both := arf()
	both = append(ar("mx.isp.test; dkim=pass header.d=fbl.test header.s=s1"), fblKey.Sign(t, both, "")...)
	if c := ingest(both).Complaint; c.Account != AliceRef.Account {
		t.Fatalf("genuine report with our Authentication-Results: %+v", c)
	}
	// Unsigned (our MTA verified the signature, a relay broke it since):
	// our topmost field says so.
	_, ours := arf()
	ours = append(ar("mx.isp.test;\r\n\tdkim=pass header.d=FBL.test header.s=s1;\r\n\tspf=pass smtp.mailfrom=fbl.test"), ours...)
	if c := ingest(ours).Complaint; c.Account != AliceRef.Account || c.FBL != "fbl.test" {
		t.Fatalf("our Authentication-Results' pass: %+v", c)
	}

	forgedQ, forged := arf()
	forged = forgerKey.Sign(t, forged, "fbl.test")
	_, otherBody := arf()
	otherBody = fblKey.Sign(t, otherBody, "")
	_, swapped := arf()
	swapped = fblKey.Sign(t, swapped, "")
	another := AliceRef
	another.QueueID, another.Time = "QOTHER", time.Now()
	newRef, _ := ks.Seal(another)
	_, unsigned := arf()
	_, notOurs := arf()
	_, injected := arf()
	_, otherDomain := arf()
	_, otherPass := arf()
	for _, c := range []struct {
		name, why string
		raw       []byte
	}{
		{"forged d=", "d=fbl.test: ", forged},
		{"altered body", "d=fbl.test: ", bytes.Replace(otherBody, []byte("This is an email abuse report"), []byte("This is an email abuse Report"), 1)},
		{"reference swapped", "d=fbl.test: ", bytes.ReplaceAll(swapped, []byte(quotedRef(t, swapped)), []byte(newRef))},
		{"receiver not configured", "d=other.test valid, not a configured feedback loop", otherKey.Sign(t, otherDomain, "")},
		{"unsigned", "no DKIM signature", unsigned},
		{"another authserv-id on top", `topmost Authentication-Results is "mx.evil.test"'s`, append(ar("mx.evil.test; dkim=pass header.d=fbl.test"), notOurs...)},
		{"injected below ours", "dkim=none header.d=", append(ar("mx.isp.test; dkim=none"), append(ar("mx.isp.test; dkim=pass header.d=fbl.test"), injected...)...)},
		{"our pass for another domain", "dkim=pass header.d=other.test: no feedback loop's pass", append(ar("mx.isp.test; dkim=pass header.d=other.test"), otherPass...)},
	} {
		res := ingest(c.raw)
		cpl := res.Complaint
		if cpl.Account != "" || !strings.HasPrefix(cpl.ID, "raw:") || !strings.Contains(cpl.Problem, "not from a trusted feedback loop") ||
			!strings.Contains(cpl.Problem, c.why) || !strings.Contains(cpl.Problem, AliceRef.Account) || cpl.Report == "" || !res.New {
			t.Errorf("%s: %+v", c.name, cpl)
		}
	}
	// The genuine report about the message a forgery named comes later:
	// it counts.
	forgedRef, _ := ks.Seal(forgedQ)
	if c := ingest(fblKey.Sign(t, ReportOf(t, "arf-full.eml", forgedRef), "")); !c.New || c.Complaint.Account != AliceRef.Account {
		t.Errorf("genuine after a forgery: %+v", c)
	}
	cs, _ := st.Complaints(context.Background(), AliceRef.Account, time.Now().Add(-time.Hour))
	all, _ := st.Complaints(context.Background(), "", time.Now().Add(-time.Hour))
	if len(cs) != 5 || len(all) != 5+8 {
		t.Errorf("alice's %d (want 5), all %d (want 13)", len(cs), len(all))
	}
}

// quotedRef is the reference a report quotes first.
func quotedRef(t *testing.T, raw []byte) string {
	rep := Parse(raw, "X-Outguard-Ref")
	if len(rep.Refs) == 0 {
		t.Fatal("no reference")
	}
	return rep.Refs[0]
}

// The resolver down: a report signed by a configured feedback loop is
// not recorded (ErrKeyUnavailable: exit 75, Postfix delivers it again),
// neither counted nor kept as a forgery; signed by any other domain whose
// key does not come it is kept, not retried (anyone can sign with a
// domain whose DNS never answers). Before: no authentication at all.
func TestFeedbackLoopKeyUnavailable(t *testing.T) {
	loops, u := feedbackLoops(t)
	ks := TestKeys(t, 1)
	e, st := sqliteEngine(t, 0)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: loops, Record: e}
	r := AliceRef
	r.Time = time.Now()
	ref, _ := ks.Seal(r)
	raw := ReportOf(t, "arf-full.eml", ref)
	u.Stop()
	if res, err := in.Ingest(context.Background(), bytes.NewReader(fblKey.Sign(t, raw, ""))); !errors.Is(err, ErrKeyUnavailable) {
		t.Errorf("fbl.test's key unavailable: %+v %v", res, err)
	}
	if res, err := in.Ingest(context.Background(), bytes.NewReader(otherKey.Sign(t, raw, ""))); err != nil || res.Complaint.Account != "" || !res.New {
		t.Errorf("other.test's key unavailable: %+v %v", res, err)
	}
	all, _ := st.Complaints(context.Background(), "", time.Now().Add(-time.Hour))
	if len(all) != 1 {
		t.Errorf("recorded %d, want 1", len(all))
	}
}

// Bounds of the authentication: at most 5 signatures of a report are
// verified (each a DNS lookup and an RSA verification): the feedback
// loop's signature under 5 others is not reached, and the report counts
// for no one. A resolver that never answers (a socket that reads and says
// nothing: no real server does so on demand) is waited for at most
// dnsTimeout for a configured loop's key: the report is then retried
// (ErrKeyUnavailable), not kept as a forgery, and the ingest has not hung.
func TestFeedbackLoopBounds(t *testing.T) {
	loops, _ := feedbackLoops(t)
	ks := TestKeys(t, 1)
	e, _ := sqliteEngine(t, 0)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: loops, Record: e}
	seal := func(q string) []byte {
		r := AliceRef
		r.QueueID, r.Time = q, time.Now()
		ref, _ := ks.Seal(r)
		return ReportOf(t, "arf-full.eml", ref)
	}
	under := func(n int, raw []byte) []byte {
		raw = fblKey.Sign(t, raw, "")
		for range n {
			raw = otherKey.Sign(t, raw, "")
		}
		return raw
	}
	if res, err := in.Ingest(context.Background(), bytes.NewReader(under(4, seal("Q4")))); err != nil || res.Complaint.Account != AliceRef.Account {
		t.Fatalf("under 4 signatures: %q %v", res.Complaint.Problem, err)
	}
	if res, err := in.Ingest(context.Background(), bytes.NewReader(under(5, seal("Q5")))); err != nil || res.Complaint.Account != "" {
		t.Fatalf("under 5 signatures: %+v %v", res.Complaint.Account, err)
	}

	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := silent.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	in.FBL.Resolver = silent.LocalAddr().String()
	start := time.Now()
	_, err = in.Ingest(context.Background(), bytes.NewReader(fblKey.Sign(t, seal("Q6"), "")))
	if !errors.Is(err, ErrKeyUnavailable) || time.Since(start) > 2*DNSTimeout {
		t.Fatalf("silent resolver: %v after %s", err, time.Since(start))
	}
}

// Our inbound MTA's field as OpenDKIM and rspamd write it, with comments
// (a ";" inside one): the pass counts. A pass only inside a comment, or
// a comment hiding the authserv-id, does not. Before: the library split
// at the comment's ";" and OpenDKIM's pass never counted.
func TestAuthResultsComments(t *testing.T) {
	loops := FeedbackLoops{Domains: []string{"fbl.test"}, AuthServID: "mx.isp.test", Resolver: "127.0.0.1:1"}
	raw := ReportOf(t, "arf-full.eml", "x")
	for v, want := range map[string]string{
		"mx.isp.test;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=fbl.test header.i=@fbl.test header.b=\"Ab1+\"": "fbl.test",
		"mx.isp.test (rspamd); dkim=pass header.d=fbl.test header.s=s1; spf=pass smtp.mailfrom=fbl.test":                 "fbl.test",
		"mx.isp.test; dkim=fail (dkim=pass header.d=fbl.test; \\) header.d=fbl.test) header.d=fbl.test":                  "",
		"(mx.isp.test) mx.evil.test; dkim=pass header.d=fbl.test":                                                        "",
		"mx.isp.test; dkim=pass header.d=\"fbl.test (x)\"":                                                               "",
	} {
		d, err := loops.Authenticate(context.Background(), append([]byte("Authentication-Results: "+v+"\r\n"), raw...))
		if d != want || (want == "") != (err != nil) {
			t.Errorf("%q: %q %v, want %q", v, d, err, want)
		}
	}
}
