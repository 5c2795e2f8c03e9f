package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/complaint"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/quarantine"
)

// refKey writes a reference key file (32 random bytes, 0600) and returns
// its path and the key.
func refKey(t *testing.T, name string) (string, complaint.Key) {
	raw := make([]byte, complaint.KeySize)
	rand.Read(raw)
	p := filepath.Join(harness.Dir(t, "keys"), name)
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := complaint.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

// arf is an RFC 5965 feedback report about msg (as delivered): the whole
// message (message/rfc822) or its header block only (text/rfc822-headers).
func arf(msg []byte, headersOnly bool, rcpt string) []byte {
	part := "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + string(msg)
	if headersOnly {
		h, _, _ := bytes.Cut(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
		part = "Content-Type: text/rfc822-headers\r\n\r\n" + strings.ReplaceAll(string(h), "\n", "\r\n") + "\r\n"
	}
	return []byte("From: <staff@fbl.receiver.test>\r\nTo: <abuse@isp.test>\r\nSubject: FW: complaint\r\n" +
		"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <r" + fmt.Sprint(time.Now().UnixNano()) + "@fbl.receiver.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n" +
		"--b1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: ReceiverFBL/1.0\r\nVersion: 1\r\n" +
		"Original-Rcpt-To: <" + rcpt + ">\r\nArrival-Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\n" +
		"--b1\r\n" + part + "\r\n--b1--\r\n")
}

// feedbackLoop is the receivers' feedback loop of these tests: reports
// signed by fbl.receiver.test, its DKIM key served by a real unbound; yaml
// is what complaints needs to trust it (inside complaints' {…}).
type feedbackLoop struct {
	key  *harness.DKIMKey
	yaml string
}

// startFeedbackLoop also serves the keys of others (receivers not
// configured, an attacker's domain).
func startFeedbackLoop(t *testing.T, others ...*harness.DKIMKey) feedbackLoop {
	k := harness.NewDKIMKey(t, "fbl.receiver.test")
	zones := map[string][]string{k.Zone(): {k.Record()}}
	for _, o := range others {
		zones[o.Zone()] = append(zones[o.Zone()], o.Record())
	}
	u := harness.StartUnbound(t, harness.UnboundConfig{Zones: zones})
	return feedbackLoop{k, fmt.Sprintf("feedback_loops: [{domain: fbl.receiver.test}], resolver: %q", u.Addr)}
}

// sign is the report as the feedback loop sends it: DKIM-signed.
func (f feedbackLoop) sign(t *testing.T, report []byte) []byte { return f.key.Sign(t, report, "") }

// ingestReport pipes report to the real milterctl binary, as Postfix's
// pipe(8) does.
func ingestReport(t *testing.T, bin, cfg string, report []byte, args ...string) (string, int) {
	cmd := exec.Command(bin, append([]string{"-config", cfg, "complaints", "ingest"}, args...)...)
	cmd.Stdin = bytes.NewReader(report)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// Through Postfix, on each store: every delivered message carries one
// reference (the customer's forged X-Outguard-Ref and CFBL-Feedback-ID
// are removed), naming its account and queue id to outguard only. ARF
// reports built from delivered messages (whole, and headers only) piped
// to the real milterctl binary are attributed to the account; the same
// report twice counts once; a report with an altered reference, one
// sealed with an unknown key and one with none are kept unattributable and
// counted for no one; after a new first key is added, a reference sealed
// with the old one still attributes, and complaints_per_day+1 complaints
// suspend the account: its next message is refused, the audit trail and
// the alert name the signal. A report quoting alice's reference about a
// message of bob's is alice's: the reference says who sent what it was
// copied from; put above the reference milterd appended to bob's message,
// it does not count (the last one does).
func TestComplaintsThroughPostfix(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	for _, kind := range spreadStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			oldPath, oldKey := refKey(t, "old.key")
			newPath, _ := refKey(t, "new.key")
			fbl := startFeedbackLoop(t)
			alerts := filepath.Join(harness.Dir(t, "alerts"), "alerts")
			limitLines := fmt.Sprintf("  contact: abuse@isp.test\n  default: {complaints_per_day: 2}\n  alert: {command: [sh, -c, 'cat >> \"$0\"; echo >> \"$0\"', %q]}\n", alerts)
			store := spreadStoreYAML(t, kind, limitLines)
			yaml := fmt.Sprintf("complaints: {keys: [%s], cfbl_address: fbl@isp.test, %s}\n", oldPath, fbl.yaml) + store
			s, cfg, res := harness.ConfigStack(t, yaml, harness.MTAConfig{})
			ctlConf := writeConfig(t, fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s], cfbl_address: fbl@isp.test, %s}\n%s", cfg.StateDir, oldPath, fbl.yaml, store))

			send := func(user, pass, subject string, extra ...string) []byte {
				t.Helper()
				n := len(s.Sink.Messages())
				c := harness.DialFrom(t, s.Postfix.Addr(), "127.0.5.1", user, pass)
				defer c.Quit()
				if r := c.Send(user+"@customer.test", []string{"victim@remote.test"}, harness.Msg(user+"@customer.test", "victim@remote.test", subject, "buy now", extra...)); r.Err != nil {
					t.Fatalf("%s: %v", subject, r.Err)
				}
				return s.Sink.Wait(t, n+1, 20*time.Second)[n].Data
			}
			forged := "X-Outguard-Ref: og1.00000000.AAAA"
			var delivered [][]byte
			for i := range 4 {
				delivered = append(delivered, send(harness.User, harness.Pass, fmt.Sprint("offer ", i), forged, "CFBL-Feedback-ID: customer-own"))
			}
			bobMsg := send("bob", "secret-bob", "hello from bob")
			keys := complaint.Keys{oldKey}
			for i, m := range delivered {
				text := string(m)
				if strings.Count(text, "X-Outguard-Ref:") != 1 || strings.Contains(text, forged) || strings.Contains(text, "customer-own") ||
					strings.Count(text, "CFBL-Address: fbl@isp.test; report=arf") != 1 || strings.Count(text, "CFBL-Feedback-ID:") != 1 {
					t.Fatalf("message %d as delivered:\n%s", i, text)
				}
				ref, err := keys.Open(headerOf(text, "X-Outguard-Ref"))
				if err != nil || ref.Account != harness.User || ref.Host != cfg.HostName() || !strings.Contains(text, "id "+ref.QueueID) {
					t.Fatalf("message %d: reference %+v %v\n%s", i, ref, err, text)
				}
				// After the customer's own fields: the parser prefers the
				// last reference of a header block.
				if strings.Index(text, "X-Outguard-Ref:") < strings.Index(text, "Message-ID:") {
					t.Errorf("message %d: the reference is not appended", i)
				}
				if headerOf(text, "CFBL-Feedback-ID") != headerOf(text, "X-Outguard-Ref") {
					t.Errorf("message %d: CFBL-Feedback-ID is not the reference", i)
				}
				if strings.Contains(headerOf(text, "X-Outguard-Ref"), harness.User) {
					t.Errorf("the account is readable in the reference")
				}
			}

			ingest := func(conf string, report []byte, want string) {
				t.Helper()
				out, code := ingestReport(t, bin, conf, fbl.sign(t, report))
				if code != 0 || !strings.Contains(out, want) {
					t.Fatalf("ingest (exit %d): %q, want %q", code, out, want)
				}
			}
			counted := func(want int) {
				t.Helper()
				cs, err := res.Store.Complaints(context.Background(), harness.User, time.Now().Add(-time.Hour))
				if err != nil || len(cs) != want {
					t.Fatalf("alice's complaints: %d %v, want %d", len(cs), err, want)
				}
			}
			// Full ARF, attributed; the same report again counts once.
			full := arf(delivered[0], false, "victim@remote.test")
			ingest(ctlConf, full, "arf msg:")
			ingest(ctlConf, full, "recorded before: not counted again")
			counted(1)
			// Headers only (text/rfc822-headers): attributed.
			ingest(ctlConf, arf(delivered[1], true, "victim@remote.test"), "account "+harness.User)
			counted(2)

			// Altered: one character of the sealed data changed.
			ref := headerOf(string(delivered[2]), "X-Outguard-Ref")
			i := len(ref) - 5
			flip := byte('A')
			if ref[i] == 'A' {
				flip = 'B'
			}
			altered := bytes.ReplaceAll(delivered[2], []byte(ref), []byte(ref[:i]+string(flip)+ref[i+1:]))
			ingest(ctlConf, arf(altered, false, "victim@remote.test"), "unattributable (reference does not verify (forged or altered)")
			// Sealed with a key outguard does not have.
			other, _ := complaint.NewKey(bytes.Repeat([]byte{7}, 32))
			fake, _ := complaint.Keys{other}.Seal(complaint.Ref{Host: cfg.HostName(), QueueID: "ABC", Account: "bob"})
			ingest(ctlConf, arf(bytes.ReplaceAll(delivered[2], []byte(ref), []byte(fake)), true, "x@remote.test"), "unattributable (reference sealed with a key not configured")
			// No reference at all: bob's mail before stamping, say.
			ingest(ctlConf, arf([]byte("From: <x@y.test>\r\nSubject: spam\r\n\r\nbody\r\n"), false, "x@remote.test"), "unattributable (no reference found")
			counted(2)
			out, code := milterctl(t, bin, ctlConf, "complaints", "list", "--unattributable")
			if code != 0 || strings.Count(out, "\n") != 4 || strings.Contains(out, harness.User) {
				t.Fatalf("complaints list --unattributable (%d):\n%s", code, out)
			}
			if cs, _ := res.Store.Complaints(context.Background(), "bob", time.Time{}); len(cs) != 0 {
				t.Fatalf("bob blamed: %+v", cs)
			}

			// A new first key: milterctl now seals with it (milterd too
			// after a reload), and alice's third message, sealed with the
			// old key, still attributes; it is her third complaint of the
			// day, one more than complaints_per_day: suspended.
			rotated := writeConfig(t, fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s, %s], %s}\n%s", cfg.StateDir, newPath, oldPath, fbl.yaml, store))
			// alice's reference copied above the one milterd appended to
			// bob's message: the last, bob's, is the one that counts.
			framed := bytes.Replace(bobMsg, []byte("Subject:"), []byte("X-Outguard-Ref: "+ref+"\r\nSubject:"), 1)
			ingest(rotated, arf(framed, true, "victim@remote.test"), "account bob")
			// A recipient who puts alice's reference in place of bob's in
			// a report about bob's message blames alice: her message 2
			// (sealed with the old key) is the one the reference names.
			bobRef := headerOf(string(bobMsg), "X-Outguard-Ref")
			copied := bytes.ReplaceAll(bobMsg, []byte(bobRef), []byte(ref))
			if !bytes.Contains(copied, []byte(ref)) || bytes.Contains(copied, []byte(bobRef)) {
				t.Fatal("could not copy the reference")
			}
			ingest(rotated, arf(copied, true, "victim@remote.test"), "suspended: 3 complaints within a day (limit 2)")
			counted(3)

			c := harness.DialFrom(t, s.Postfix.Addr(), "127.0.5.1", harness.User, harness.Pass)
			r := c.Send(harness.User+"@customer.test", []string{"x@remote.test"}, harness.Msg(harness.User+"@customer.test", "x@remote.test", "after", "hello"))
			c.Quit()
			if got := harness.Reply(r.Err); got != "451 4.7.1 Account suspended for mail its receivers reported as spam; contact abuse@isp.test" {
				t.Fatalf("alice after the suspension: %q", got)
			}
			all, err := res.Store.Suspensions(context.Background())
			if err != nil || len(all) != 1 || all[0].Signal != limits.SignalComplaints || len(all[0].Sightings) != 3 {
				t.Fatalf("suspensions %+v %v", all, err)
			}
			trail, _ := res.Store.AuditTrail(context.Background(), harness.User, time.Time{})
			if len(trail) != 1 || trail[0].Event != limits.AuditSuspended || !strings.Contains(trail[0].Detail, "complaints") {
				t.Errorf("audit trail %+v", trail)
			}
			// milterctl puts the alerts in the store's outbox; milterd's
			// courier sends them.
			waitFor(t, "the complaint and suspension alerts", func() bool {
				b, _ := os.ReadFile(alerts)
				return strings.Count(string(b), `"event":"complaint"`) >= 4 && strings.Contains(string(b), `"event":"suspended"`)
			})
			b, _ := os.ReadFile(alerts)
			if strings.Count(string(b), `"event":"complaint","account":"alice"`) != 3 || !strings.Contains(string(b), `"signal":"complaints"`) {
				t.Errorf("alerts:\n%s", b)
			}
			out, code = milterctl(t, bin, ctlConf, "accounts", "show", harness.User)
			if code != 0 || !strings.Contains(out, "Complaints: 3/2 in the last day") || !strings.Contains(out, "Signal: complaints") {
				t.Errorf("accounts show (%d):\n%s", code, out)
			}
		})
	}
}

// A report the store cannot take is not lost: with the store down (a
// Redis that is not there), a bad key file or a config that does not
// load, ingest exits 75 (EX_TEMPFAIL: Postfix's pipe defers it and tries
// again); a Maildir's report stays in new/. Once the store answers, the
// Maildir is ingested, each report moved to cur/, and a second run finds
// nothing to do.
func TestComplaintsIngestNothingLost(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	key, _ := refKey(t, "ref.key")
	state := harness.Dir(t, "state")
	maildir := harness.Dir(t, "Maildir")
	for _, d := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(maildir, d), 0o700)
	}
	report := arf([]byte("From: <x@y.test>\r\nX-Outguard-Ref: og1.00000000.AAAA\r\nSubject: spam\r\n\r\nbody\r\n"), false, "x@remote.test")
	for i := range 2 {
		os.WriteFile(filepath.Join(maildir, "new", fmt.Sprintf("17000000%d.M1P1.host", i)), append(report, fmt.Sprint(i)...), 0o600)
	}
	down := writeConfig(t, fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s]}\nlimits: {store: redis, redis: {address: \"127.0.0.1:%d\", timeout: 1s}}\n", state, key, harness.DownPort(t)))
	if out, code := ingestReport(t, bin, down, report); code != 75 || !strings.Contains(out, "redis") {
		t.Fatalf("store down: exit %d %q, want 75", code, out)
	}
	if out, code := ingestReport(t, bin, down, nil, "--maildir", maildir); code != 75 {
		t.Fatalf("store down, Maildir: exit %d %q, want 75", code, out)
	}
	if n, _ := os.ReadDir(filepath.Join(maildir, "new")); len(n) != 2 {
		t.Fatalf("new/ after a failed run: %d", len(n))
	}
	// A Redis that stops answering mid-way (SIGSTOP: the connection
	// opens, nothing is answered): limits.redis.timeout bounds the wait,
	// and the report is deferred.
	rd := harness.StartRedis(t)
	stalled := writeConfig(t, fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s]}\nlimits: {store: redis, redis: {address: %q, timeout: 1s}}\n", state, key, rd.Addr))
	if out, code := ingestReport(t, bin, stalled, report); code != 0 {
		t.Fatalf("redis up: exit %d %q", code, out)
	}
	rd.Pause()
	start := time.Now()
	out, code := ingestReport(t, bin, stalled, append(report, 'x'))
	rd.Resume()
	if code != 75 || time.Since(start) > 15*time.Second {
		t.Fatalf("stalled redis: exit %d after %s: %q", code, time.Since(start), out)
	}
	short := filepath.Join(harness.Dir(t, "keys"), "short.key")
	os.WriteFile(short, make([]byte, 16), 0o600)
	open := filepath.Join(harness.Dir(t, "keys"), "open.key")
	os.WriteFile(open, make([]byte, 32), 0o644)
	os.Chmod(open, 0o644)
	for _, c := range []struct{ keyFile, want string }{{short, "16 bytes"}, {open, "mode -rw-r--r--"}, {"/nonexistent/ref.key", "no such file"}} {
		conf := writeConfig(t, fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s]}\nlimits: {}\n", state, c.keyFile))
		if out, code := ingestReport(t, bin, conf, report); code != 75 || !strings.Contains(out, "complaints.keys") || !strings.Contains(out, c.want) {
			t.Errorf("key file %s: exit %d %q", c.keyFile, code, out)
		}
	}
	if out, code := ingestReport(t, bin, "/nonexistent.yaml", report); code != 75 {
		t.Errorf("no config: exit %d %q", code, out)
	}
	if out, code := ingestReport(t, bin, down, report, "--bogus"); code != 75 {
		t.Errorf("bad flag: exit %d %q", code, out)
	}

	up := writeConfig(t, fmt.Sprintf("state_dir: %s\ncomplaints: {keys: [%s]}\nlimits: {}\n", state, key))
	if out, code := ingestReport(t, bin, up, nil, "--maildir", state); code != 75 || !strings.Contains(out, "is not a Maildir") {
		t.Errorf("not a Maildir: exit %d %q", code, out)
	}
	out, code = ingestReport(t, bin, up, nil, "--maildir", maildir)
	if code != 0 || strings.Count(out, "unattributable") != 2 {
		t.Fatalf("Maildir (%d): %q", code, out)
	}
	cur, _ := os.ReadDir(filepath.Join(maildir, "cur"))
	if n, _ := os.ReadDir(filepath.Join(maildir, "new")); len(n) != 0 || len(cur) != 2 || !strings.HasSuffix(cur[0].Name(), ":2,S") {
		t.Fatalf("after ingesting: new %d, cur %v", len(n), cur)
	}
	if out, code := ingestReport(t, bin, up, nil, "--maildir", maildir); code != 0 || out != "" {
		t.Fatalf("second run (%d): %q", code, out)
	}
	// The same report moved back into new/ (a crash before the move) is
	// kept once.
	os.Rename(filepath.Join(maildir, "cur", cur[0].Name()), filepath.Join(maildir, "new", "again"))
	if out, code := ingestReport(t, bin, up, nil, "--maildir", maildir); code != 0 || !strings.Contains(out, "recorded before") {
		t.Fatalf("a report ingested twice (%d): %q", code, out)
	}
	out, _ = milterctl(t, bin, up, "complaints", "list")
	if strings.Count(out, "\n") != 3 {
		t.Fatalf("complaints list:\n%s", out)
	}
}

// The queue follows a suspension for complaints as for any other signal:
// alice has three messages deferred in a real Postfix's queue; reports
// built from two of them as Postfix holds them (postcat, with the
// reference milterd stamped) cross complaints_per_day 1, and within 5 s
// milterd's sweep has all three in the hold queue.
func TestComplaintsHoldQueuedMail(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	key, _ := refKey(t, "ref.key")
	fbl := startFeedbackLoop(t)
	h := startContainmentHost(t, fmt.Sprintf("complaints: {keys: [%s], %s}\n", key, fbl.yaml)+storeConfig(t, "sqlite", "  default: {complaints_per_day: 1}\n  on_suspend_queued: hold\n"), nil, true)
	ids := h.deferThree(t)
	for i, id := range ids[:2] {
		hdr, err := exec.Command("postcat", "-c", h.s.Postfix.Dir, "-h", "-q", id).Output()
		if err != nil || !bytes.Contains(hdr, []byte("X-Outguard-Ref: og1.")) {
			t.Fatalf("postcat %s: %v\n%s", id, err, hdr)
		}
		out, code := ingestReport(t, bin, h.ctlConf, fbl.sign(t, arf(hdr, true, "later@remote.test")))
		if code != 0 || !strings.Contains(out, id) || (i == 1) != strings.Contains(out, "suspended: 2 complaints within a day (limit 1)") {
			t.Fatalf("report %d (exit %d): %s", i, code, out)
		}
	}
	if held := heldWithin(t, h.s.Postfix.Dir, 3, time.Now()); fmt.Sprint(held) != fmt.Sprint(ids) {
		t.Fatalf("5 s after the suspension, held %v; want %v\n%s", held, ids, h.log.String())
	}
}

// The pipe transport of docs/suspension.md, in a real Postfix: a report
// to the FBL address goes to milterctl complaints ingest as user nobody.
// While the store does not answer (Redis stopped), milterctl exits 75 and
// Postfix defers the report (nothing bounces, nothing is lost); once the
// store is back, Postfix's next try delivers it and alice has her
// complaint.
func TestComplaintsPostfixPipe(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	key, _ := refKey(t, "ref.key")
	if err := exec.Command("chown", "nobody", key).Run(); err != nil {
		t.Fatal(err)
	}
	rd := harness.StartRedis(t)
	fbl := startFeedbackLoop(t)
	transport := filepath.Join(harness.Dir(t, "fbl"), "transport")
	os.WriteFile(transport, []byte("fbl@isp.test outguard-fbl:\n"), 0o644)
	store := fmt.Sprintf("complaints: {keys: [%s], %s}\nlimits: {store: redis, redis: {address: %q, timeout: 1s}}\n", key, fbl.yaml, rd.Addr)
	s, _, res := harness.ConfigStack(t, store, harness.MTAConfig{Main: map[string]string{
		"transport_maps": "texthash:" + transport, "outguard-fbl_destination_recipient_limit": "1",
		"minimal_backoff_time": "1s", "maximal_backoff_time": "2s", "queue_run_delay": "1s",
	}})
	ctlConf := writeConfig(t, store)
	master := filepath.Join(s.Postfix.Dir, "master.cf")
	m, _ := os.ReadFile(master)
	m = append(m, fmt.Sprintf("outguard-fbl unix - n n - 1 pipe\n  flags=R user=nobody argv=%s -config %s complaints ingest\n", bin, ctlConf)...)
	os.WriteFile(master, m, 0o644)
	if out, err := exec.Command("postfix", "-c", s.Postfix.Dir, "reload").CombinedOutput(); err != nil {
		t.Fatalf("postfix reload: %v %s", err, out)
	}

	c := harness.DialFrom(t, s.Postfix.Addr(), "127.0.5.1", harness.User, harness.Pass)
	if r := c.Send(harness.User+"@customer.test", []string{"victim@remote.test"}, harness.Msg(harness.User+"@customer.test", "victim@remote.test", "pills", "buy")); r.Err != nil {
		t.Fatal(r.Err)
	}
	c.Quit()
	delivered := s.Sink.Wait(t, 1, 20*time.Second)[0].Data

	rd.Pause()
	sendmail := exec.Command("sendmail", "-C", s.Postfix.Dir, "-f", "staff@fbl.receiver.test", "fbl@isp.test")
	// Signed by the feedback loop; Postfix's pipe delivers it with LF line
	// ends and a Return-Path: the signature still verifies.
	sendmail.Stdin = bytes.NewReader(fbl.sign(t, arf(delivered, false, "victim@remote.test")))
	if out, err := sendmail.CombinedOutput(); err != nil {
		t.Fatalf("sendmail: %v %s", err, out)
	}
	waitFor(t, "the report deferred", func() bool {
		return strings.Contains(s.Postfix.LogText(), "relay=outguard-fbl") && strings.Contains(s.Postfix.LogText(), "status=deferred")
	})
	rd.Resume()
	waitFor(t, "the report delivered", func() bool {
		exec.Command("postqueue", "-c", s.Postfix.Dir, "-f").Run()
		return strings.Contains(s.Postfix.LogText(), "status=sent (delivered via outguard-fbl service")
	})
	log := s.Postfix.LogText()
	if strings.Contains(log, "status=bounced") || !strings.Contains(log, "status=deferred (temporary failure. Command output: milterctl:") {
		t.Errorf("not deferred by milterctl's exit 75, or bounced:\n%s", log)
	}
	cs, err := res.Store.Complaints(context.Background(), harness.User, time.Now().Add(-time.Hour))
	if err != nil || len(cs) != 1 || cs[0].Kind != "arf" {
		t.Fatalf("alice's complaints %+v %v\n%s", cs, err, log)
	}
}

// Someone who received alice's mail (3 messages, complaints_per_day 1)
// writes reports about it with its genuine references and pipes them to
// the real milterctl: unsigned, signed by a domain of his own, signed
// claiming the feedback loop's domain with his key, the feedback loop's
// genuine report with its body altered, and an Authentication-Results
// pass injected below the one the ISP's inbound MTA (authserv-id
// mx.isp.test) put on top. None counts: alice is not suspended and still
// sends; complaints list shows each with its reason. Then the feedback
// loop's own two reports suspend her. Before: the first two forgeries
// suspended her.
func TestComplaintsForgedReportsCountForNoOne(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	key, _ := refKey(t, "ref.key")
	attacker := harness.NewDKIMKey(t, "attacker.test")
	forger := harness.NewDKIMKey(t, "fbl.receiver.test")
	fbl := startFeedbackLoop(t, attacker)
	store := storeConfig(t, "sqlite", "  contact: abuse@isp.test\n  default: {complaints_per_day: 1}\n")
	yaml := fmt.Sprintf("complaints: {keys: [%s], authserv_id: mx.isp.test, %s}\n", key, fbl.yaml) + store
	s, cfg, res := harness.ConfigStack(t, yaml, harness.MTAConfig{})
	ctlConf := writeConfig(t, fmt.Sprintf("state_dir: %s\n%s", cfg.StateDir, yaml))
	send := func(subject string) ([]byte, error) {
		n := len(s.Sink.Messages())
		c := harness.DialFrom(t, s.Postfix.Addr(), "127.0.5.1", harness.User, harness.Pass)
		defer c.Quit()
		if r := c.Send(harness.User+"@customer.test", []string{"victim@remote.test"}, harness.Msg(harness.User+"@customer.test", "victim@remote.test", subject, "hello")); r.Err != nil {
			return nil, r.Err
		}
		return s.Sink.Wait(t, n+1, 20*time.Second)[n].Data, nil
	}
	var got [][]byte
	for i := range 3 {
		m, err := send(fmt.Sprint("note ", i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	ar := func(v string) []byte { return []byte("Authentication-Results: " + v + "\r\n") }
	genuine := fbl.sign(t, arf(got[2], false, "victim@remote.test"))
	forgeries := map[string][]byte{
		"unsigned":            arf(got[0], false, "victim@remote.test"),
		"unsigned, headers":   arf(got[1], true, "victim@remote.test"),
		"own domain":          attacker.Sign(t, arf(got[0], true, "victim@remote.test"), ""),
		"own key, fbl's d=":   forger.Sign(t, arf(got[1], false, "victim@remote.test"), "fbl.receiver.test"),
		"fbl's, body altered": bytes.Replace(genuine, []byte("This is an email abuse report."), []byte("This is an email abuse report!"), 1),
		"pass injected below": append(ar("mx.isp.test; dkim=none"), append(ar("mx.isp.test; dkim=pass header.d=fbl.receiver.test"), arf(got[0], false, "v@remote.test")...)...),
		"another mta on top":  append(ar("mx.attacker.test; dkim=pass header.d=fbl.receiver.test"), arf(got[1], false, "v@remote.test")...),
	}
	for name, r := range forgeries {
		out, code := ingestReport(t, bin, ctlConf, r)
		if code != 0 || !strings.Contains(out, "unattributable (not from a trusted feedback loop") || !strings.Contains(out, "reference of "+harness.User) {
			t.Errorf("%s (exit %d): %s", name, code, out)
		}
	}
	if cs, _ := res.Store.Complaints(context.Background(), harness.User, time.Time{}); len(cs) != 0 {
		t.Fatalf("counted for alice: %+v", cs)
	}
	if _, err := send("still sending"); err != nil {
		t.Fatalf("alice after the forgeries: %v", err)
	}
	out, code := milterctl(t, bin, ctlConf, "complaints", "list", "--unattributable")
	if code != 0 || strings.Count(out, "not from a trusted feedback loop") != len(forgeries) {
		t.Fatalf("complaints list --unattributable (%d):\n%s", code, out)
	}
	if out, code := ingestReport(t, bin, ctlConf, fbl.sign(t, arf(got[0], true, "victim@remote.test"))); code != 0 || !strings.Contains(out, "account "+harness.User) {
		t.Fatalf("the feedback loop's first report (exit %d): %s", code, out)
	}
	if out, code := ingestReport(t, bin, ctlConf, genuine); code != 0 || !strings.Contains(out, "suspended: 2 complaints within a day (limit 1)") {
		t.Fatalf("the feedback loop's second report (exit %d): %s", code, out)
	}
	if _, err := send("after"); harness.Reply(err) != "451 4.7.1 Account suspended for mail its receivers reported as spam; contact abuse@isp.test" {
		t.Fatalf("alice after the genuine reports: %v", err)
	}
}

// Mail held in the quarantine and released goes out stamped as accepted
// mail does: through Postfix alice sends a message that a rule holds,
// with a forged X-Outguard-Ref and CFBL-Feedback-ID of her own; released
// by the real milterctl through a release Postfix, it arrives with one
// reference (hers removed), sealed at release, naming alice and the queue
// id it was held under on this smarthost, and the feedback loop's report
// about it counts for alice and suspends her (complaints_per_day 0 is
// off, so 1 here: two reports). With the key file unusable the release
// fails and the entry stays held. Before: released mail went out with the
// customer's fields and no reference of ours: its complaints attributed
// to no one.
func TestComplaintsReleasedMailStamped(t *testing.T) {
	t.Parallel()
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	key, k := refKey(t, "ref.key")
	fbl := startFeedbackLoop(t)
	complaints := fmt.Sprintf("complaints: {keys: [%s], cfbl_address: fbl@isp.test, %s}\n", key, fbl.yaml)
	yaml := complaints + fmt.Sprintf("rules: {dir: %s, watch: false}\nquarantine: {}\nlimits:\n  contact: abuse@isp.test\n  default: {complaints_per_day: 1}\n", holdRules(t))
	s, cfg, res := harness.ConfigStack(t, yaml, harness.MTAConfig{})
	sink := harness.StartSink(t)
	rel := harness.StartPostfix(t, harness.MTAConfig{RelayPort: sink.Port})
	ctlConf := writeConfig(t, fmt.Sprintf("state_dir: %s\n%squarantine: {release_address: %q}\nlimits:\n  contact: abuse@isp.test\n  default: {complaints_per_day: 1}\n", cfg.StateDir, complaints, rel.Addr()))

	for i := range 2 {
		msg := harness.Msg(harness.User+"@customer.test", "victim@remote.test", fmt.Sprint("held ", i), "click here",
			"X-Test-Hold: yes", "X-Outguard-Ref: og1.00000000.AAAA", "CFBL-Feedback-ID: customer-own")
		if r := s.Dial(t).Send(harness.User+"@customer.test", []string{"victim@remote.test"}, msg); r.Err != nil {
			t.Fatalf("held %d: %v", i, harness.Reply(r.Err))
		}
	}
	out, code := milterctl(t, bin, ctlConf, "quarantine", "list", "--json")
	var recs []quarantine.Record
	if err := json.Unmarshal([]byte(out), &recs); code != 0 || err != nil || len(recs) != 2 || len(s.Sink.Messages()) != 0 {
		t.Fatalf("quarantine list (%d): %v\n%s", code, err, out)
	}
	// A key file that cannot be used (readable by anyone): the release
	// fails naming it, the entry stays held, nothing is delivered.
	os.Chmod(key, 0o644)
	if out, code := milterctl(t, bin, ctlConf, "quarantine", "release", recs[0].ID); code == 0 || !strings.Contains(out, "complaints.keys") {
		t.Fatalf("release with an unusable key (%d): %s", code, out)
	}
	os.Chmod(key, 0o600)
	if out, _ := milterctl(t, bin, ctlConf, "quarantine", "list", "--state", "held"); strings.Count(out, "\n") != 3 || len(sink.Messages()) != 0 {
		t.Fatalf("after the failed release:\n%s", out)
	}
	for i, rec := range recs {
		if out, code := milterctl(t, bin, ctlConf, "quarantine", "release", rec.ID); code != 0 {
			t.Fatalf("release %s (%d): %s", rec.ID, code, out)
		}
		text := string(sink.Wait(t, i+1, 20*time.Second)[i].Data)
		if strings.Count(text, "X-Outguard-Ref:") != 1 || strings.Contains(text, "og1.00000000.AAAA") || strings.Contains(text, "customer-own") ||
			strings.Count(text, "CFBL-Feedback-ID:") != 1 || headerOf(text, "CFBL-Feedback-ID") != headerOf(text, "X-Outguard-Ref") {
			t.Fatalf("released %s:\n%s", rec.ID, text)
		}
		ref, err := complaint.Keys{k}.Open(headerOf(text, "X-Outguard-Ref"))
		if err != nil || ref.Account != harness.User || ref.Host != cfg.HostName() || ref.QueueID != rec.QueueID || time.Since(ref.Time) > time.Minute {
			t.Fatalf("released %s: reference %+v %v", rec.ID, ref, err)
		}
		want := "account " + harness.User + " (" + cfg.HostName() + " " + rec.QueueID + ")"
		if i == 1 {
			want += "; suspended: 2 complaints within a day (limit 1)"
		}
		if out, code := ingestReport(t, bin, ctlConf, fbl.sign(t, arf([]byte(text), false, "victim@remote.test"))); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("report about released %s (%d): %s, want %q", rec.ID, code, out, want)
		}
	}
	if cs, _ := res.Store.Complaints(context.Background(), harness.User, time.Time{}); len(cs) != 2 {
		t.Errorf("alice's complaints: %d", len(cs))
	}
}
