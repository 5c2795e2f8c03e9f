package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/milter"
	"outguard/policy"
	"outguard/quarantine"
)

// holdTagged quarantines messages that carry X-Test-Quarantine.
type holdTagged struct{}

func (holdTagged) Name() string { return "test" }
func (holdTagged) CheckMessage(_ context.Context, t *policy.Transaction) (policy.Verdict, error) {
	for _, h := range t.Headers {
		if h.Name == "X-Test-Quarantine" {
			return policy.Verdict{Action: policy.Quarantine, Reason: "test rule: " + h.Value}, nil
		}
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

type qenv struct {
	stack   *harness.Stack
	store   *quarantine.Store
	cfg     string
	dir     string
	release *harness.Postfix
}

// startQuarantine starts the stack with a quarantine in a directory of its
// own; prepare, if any, runs on the directory before the store opens.
func startQuarantine(t *testing.T, prepare ...func(dir string)) *qenv {
	e := &qenv{dir: harness.Dir(t, "q")}
	for _, p := range prepare {
		p(e.dir)
	}
	store, err := quarantine.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e.store = store
	e.stack = harness.StartStack(t, harness.StackConfig{State: func(log *slog.Logger) *milter.State {
		return &milter.State{
			Pipeline:         policy.NewPipeline(log, policy.Entry{Check: holdTagged{}, OnError: policy.Tempfail}),
			HeaderName:       "X-Outguard",
			Version:          "test",
			SpoolLimit:       1 << 20,
			ProgressInterval: 10 * time.Second,
			Quarantine:       store,
		}
	}})
	// The release address: a Postfix without milters relaying to the same
	// sink, refusing one address.
	e.release = harness.StartPostfix(t, harness.MTAConfig{
		RelayPort:  e.stack.Sink.Port,
		RcptAccess: map[string]string{"refused@remote.test": "REJECT 5.7.1 not here"},
	})
	e.cfg = filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(e.cfg, []byte(fmt.Sprintf("state_dir: /tmp\nquarantine:\n  dir: %s\n  release_address: %s\n", e.dir, e.release.Addr())), 0o644)
	return e
}

// hold sends one message to be held per subject and returns the entries,
// newest first.
func (e *qenv) hold(t *testing.T, subjects ...string) []quarantine.Record {
	t.Helper()
	for _, subject := range subjects {
		msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: " + subject + "\r\nX-Test-Quarantine: kit\r\n\r\nhello\r\n"
		if r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)); r.Err != nil {
			t.Fatalf("send: %s", harness.Reply(r.Err))
		}
	}
	recs, err := e.store.List(context.Background(), quarantine.Filter{})
	if err != nil || len(recs) != len(subjects) {
		t.Fatalf("%d held (%v), want %d", len(recs), err, len(subjects))
	}
	return recs
}

const qbody = "Click here: http://phish.example/login\r\n\r\n-- \r\nsent from my PC\r\n"

func TestQuarantineHoldReviewRelease(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: Your account\r\nX-Test-Quarantine: phish kit\r\n\r\n" + qbody
	c := e.stack.Dial(t)
	r := c.SendFrom("alice@customer.test", []string{"victim@remote.test", "second@remote.test"}, strings.NewReader(msg))
	if r.Err != nil {
		t.Fatalf("quarantined message: the client must get 250, got %s", harness.Reply(r.Err))
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(e.stack.Sink.Messages()); n != 0 {
		t.Fatalf("%d quarantined messages reached the sink", n)
	}
	out, code := ctl(t, e.cfg, "quarantine", "list", "--json")
	var recs []quarantine.Record
	if err := json.Unmarshal([]byte(out), &recs); code != 0 || err != nil || len(recs) != 1 {
		t.Fatalf("list (%d): %v\n%s", code, err, out)
	}
	rec := recs[0]
	if rec.User != harness.User || rec.From != "alice@customer.test" || len(rec.Rcpts) != 2 || rec.State != quarantine.Held || rec.QueueID == "" || !strings.Contains(rec.Reason, "phish kit") {
		t.Errorf("record %+v", rec)
	}
	// Kept exactly as received: every header line as sent, the body
	// byte for byte, and the recorded SHA-256 of the whole.
	raw, code := ctl(t, e.cfg, "quarantine", "raw", rec.ID)
	hdr, body, _ := strings.Cut(raw, "\r\n\r\n")
	if code != 0 || sha256.Sum256([]byte(body)) != sha256.Sum256([]byte(qbody)) {
		t.Errorf("body differs from what was sent:\n%q", body)
	}
	sentHdr, _, _ := strings.Cut(msg, "\r\n\r\n")
	for _, line := range strings.Split(sentHdr, "\r\n") {
		if !strings.Contains(hdr+"\r\n", line+"\r\n") {
			t.Errorf("header line %q not kept as sent:\n%s", line, hdr)
		}
	}
	if sum := sha256.Sum256([]byte(raw)); fmt.Sprintf("%x", sum) != rec.SHA256 {
		t.Errorf("raw output does not match the recorded SHA-256")
	}
	if fi, _ := os.Stat(filepath.Join(e.dir, "msg", rec.ID+".eml")); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("message file mode %v, want 0600", fi)
	}

	show, _ := ctl(t, e.cfg, "quarantine", "show", rec.ID)
	for _, want := range []string{"Reason:", "phish kit", "Subject: Your account"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	// The parts as the scanner walked them: the header block, then part 1.
	if !regexp.MustCompile(`(?m)^  header +text/rfc822-headers +- +\d+\s*$\n  1 +text/plain +- +64`).MatchString(show) {
		t.Errorf("show does not list the scanned items:\n%s", show)
	}

	// Release to an address the MTA refuses: non-zero, the reply printed,
	// still held.
	out, code = ctl(t, e.cfg, "quarantine", "release", rec.ID, "--to", "refused@remote.test")
	if code != 1 || !strings.Contains(out, "5.7.1") || !strings.Contains(out, "not here") {
		t.Errorf("refused release (%d):\n%s", code, out)
	}
	if got, _ := e.store.Get(context.Background(), rec.ID); got.State != quarantine.Held {
		t.Errorf("state after a refused release: %s", got.State)
	}
	// Release with the original envelope: it arrives with its headers.
	out, code = ctl(t, e.cfg, "quarantine", "release", rec.ID)
	if code != 0 || !strings.Contains(out, "released: 250") {
		t.Fatalf("release (%d):\n%s", code, out)
	}
	got := e.stack.Sink.Wait(t, 1, 10*time.Second)[0]
	if len(got.Rcpts) != 2 || !bytes.Contains(got.Data, []byte("Subject: Your account\r\n")) || !bytes.HasSuffix(got.Data, []byte(qbody)) {
		t.Errorf("released message: rcpts %v\n%s", got.Rcpts, got.Data)
	}
	// The trace header, so that the MTA's log can tell whether a release
	// arrived.
	if !bytes.Contains(got.Data, []byte("\r\nX-Outguard-Release: "+rec.ID+"\r\n")) && !bytes.HasPrefix(got.Data, []byte("X-Outguard-Release: "+rec.ID+"\r\n")) {
		t.Errorf("released message lacks X-Outguard-Release: %s\n%s", rec.ID, got.Data)
	}
	if got, _ := e.store.Get(context.Background(), rec.ID); got.State != quarantine.Released {
		t.Errorf("state after release: %s", got.State)
	}
	audit, _ := ctl(t, e.cfg, "quarantine", "audit", rec.ID, "--json")
	if strings.Count(audit, `"action":"release"`) != 2 || !strings.Contains(audit, `"operator":"`) || !strings.Contains(audit, `"host":"`) {
		t.Errorf("audit trail:\n%s", audit)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "release", rec.ID); code != 1 || !strings.Contains(out, "not held") {
		t.Errorf("second release (%d): %s", code, out)
	}
}

func TestQuarantineWriteFailureTempfails(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	// An injected write error: the message directory is replaced by a file.
	os.RemoveAll(filepath.Join(e.dir, "msg"))
	os.WriteFile(filepath.Join(e.dir, "msg"), nil, 0o600)
	msg := "Subject: x\r\nX-Test-Quarantine: yes\r\n\r\nbody\r\n"
	r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"v@remote.test"}, strings.NewReader(msg))
	if got := harness.Reply(r.Err); !strings.HasPrefix(got, "451 4.7.1") {
		t.Fatalf("quarantine write failure: %q, want a tempfail", got)
	}
	if !strings.Contains(e.stack.Log.String(), "quarantine failed") {
		t.Errorf("the log does not say why")
	}
}

func TestQuarantineCorruptOrMissingFile(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	for i := range 3 {
		msg := fmt.Sprintf("Subject: %d\r\nX-Test-Quarantine: yes\r\n\r\nbody %d\r\n", i, i)
		if r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"v@remote.test"}, strings.NewReader(msg)); r.Err != nil {
			t.Fatal(harness.Reply(r.Err))
		}
	}
	recs, _ := e.store.List(context.Background(), quarantine.Filter{})
	if len(recs) != 3 {
		t.Fatalf("%d entries", len(recs))
	}
	os.WriteFile(filepath.Join(e.dir, "msg", recs[0].ID+".eml"), []byte("tampered"), 0o600)
	os.Remove(filepath.Join(e.dir, "msg", recs[1].ID+".eml"))
	if out, code := ctl(t, e.cfg, "quarantine", "show", recs[0].ID); code != 0 || !strings.Contains(out, "corrupt") {
		t.Errorf("show corrupt (%d):\n%s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "release", recs[0].ID); code != 1 || !strings.Contains(out, "corrupt") {
		t.Errorf("release corrupt (%d):\n%s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "raw", recs[1].ID); code != 1 || !strings.Contains(out, "no such file") {
		t.Errorf("raw missing (%d):\n%s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "release", recs[2].ID); code != 0 {
		t.Errorf("an intact entry next to broken ones (%d):\n%s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "delete", recs[1].ID); code != 0 || !strings.Contains(out, "deleted") {
		t.Errorf("delete of an entry whose file is gone (%d):\n%s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "purge", "--older-than", "0s"); code != 0 || !strings.Contains(out, "purged 3") {
		t.Errorf("purge (%d):\n%s", code, out)
	}
}

// A held message cannot drive the reviewer's terminal: what it carries
// comes out escaped in list and show, exact in --json and raw.
func TestQuarantineOutputEscaped(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	evil := "\x1b]0;owned\x07\x1b[2J"
	msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: " + evil + "invoice\r\nX-Test-Quarantine: kit " + evil + "\r\n\r\nhello\r\n"
	if r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	var recs []quarantine.Record
	for range 50 {
		out, _ := ctl(t, e.cfg, "quarantine", "list", "--json")
		if json.Unmarshal([]byte(out), &recs); len(recs) == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(recs) != 1 || !strings.Contains(recs[0].Reason, evil) {
		t.Fatalf("--json is not exact: %+v", recs)
	}
	for _, args := range [][]string{{"quarantine", "list"}, {"quarantine", "show", recs[0].ID}} {
		out, code := ctl(t, e.cfg, args...)
		if code != 0 || strings.ContainsAny(out, "\x1b\x07\r") || !strings.Contains(out, `\x1b]0;owned\x07\x1b[2J`) {
			t.Errorf("%v (%d) is not escaped:\n%q", args, code, out)
		}
	}
	if raw, _ := ctl(t, e.cfg, "quarantine", "raw", recs[0].ID); !strings.Contains(raw, evil) {
		t.Error("raw is not exact")
	}
}

// Two reviewers release the same entry at once: one delivery. A release
// that died after taking the entry is shown as such, refused, and resolved
// by the reviewer without a second delivery.
func TestReleaseExactlyOnce(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	recs := e.hold(t, "one", "two")
	codes := make(chan int, 2)
	for range 2 {
		go func() { _, code := ctl(t, e.cfg, "quarantine", "release", recs[0].ID); codes <- code }()
	}
	if a, b := <-codes, <-codes; a+b != 1 {
		t.Errorf("exit codes %d and %d: want one release to succeed and one refused", a, b)
	}
	e.stack.Sink.Wait(t, 1, 20*time.Second)
	time.Sleep(time.Second) // a second delivery would arrive now
	if n := len(e.stack.Sink.Messages()); n != 1 {
		t.Fatalf("%d deliveries of one released entry", n)
	}

	// A release that took the second entry and died: past its lease.
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := `{"operator":"bob","started":"2026-01-01T10:00:00Z","lease":"2026-01-01T10:05:00Z"}`
	if _, err := db.Exec(`UPDATE entries SET state = 'releasing', claim = ? WHERE id = ?`, old, recs[1].ID); err != nil {
		t.Fatal(err)
	}
	if out, _ := ctl(t, e.cfg, "quarantine", "show", recs[1].ID); !strings.Contains(out, "by bob since") || !strings.Contains(out, "did not finish") {
		t.Errorf("show of a dead release:\n%s", out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "release", recs[1].ID); code != 1 || !strings.Contains(out, "did not finish") {
		t.Errorf("release over a dead one (%d): %s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "resolve", recs[1].ID, "held"); code != 0 {
		t.Fatalf("resolve (%d): %s", code, out)
	}
	if out, code := ctl(t, e.cfg, "quarantine", "release", recs[1].ID); code != 0 {
		t.Fatalf("release after resolve (%d): %s", code, out)
	}
	e.stack.Sink.Wait(t, 2, 20*time.Second)
	if audit, _ := ctl(t, e.cfg, "quarantine", "audit", "--json"); !strings.Contains(audit, `"action":"resolve"`) {
		t.Errorf("audit trail lacks the resolve:\n%s", audit)
	}
}

// A message held by two engines (clamd's signature in one part, a YARA
// rule in another): the record keeps both findings with their part paths,
// show lists them, list filters by rule.
func TestQuarantineKeepsEveryFinding(t *testing.T) {
	t.Parallel()
	cd := harness.StartClamd(t, "30M")
	rulesDir, _ := filepath.Abs("../../rules")
	section := "quarantine: {}\nclamd: {addresses: [\"unix:" + cd.Socket + "\"], on_virus: quarantine}\nrules: {dir: " + rulesDir + ", watch: false}\n"
	s, c, _ := harness.ConfigStack(t, section, harness.MTAConfig{})
	cfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+c.StateDir+"\n"+section), 0o644)

	data, _ := os.ReadFile("../../testdata/messages/13-phishing-form.eml")
	eicar := base64.StdEncoding.EncodeToString([]byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`))
	msg := strings.Replace(string(data), "--b0undary--", "--b0undary\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"tool.com\"\nContent-Transfer-Encoding: base64\n\n"+eicar+"\n--b0undary--", 1)
	if r := s.Dial(t).SendFrom("alice@customer.test", []string{"bob@remote.test"}, strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n"))); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	var recs []quarantine.Record
	for range 50 {
		out, _ := ctl(t, cfg, "quarantine", "list", "--json", "--rule", "html_password_form_offsite")
		if json.Unmarshal([]byte(out), &recs); len(recs) == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(recs) != 1 {
		t.Fatalf("list --rule found %d entries", len(recs))
	}
	var clam, rule bool
	for _, f := range recs[0].Findings {
		clam = clam || f.Engine == "clamd" && f.Name == "Eicar-Test-Signature" && strings.HasPrefix(f.Version, "ClamAV ")
		rule = rule || f.Engine == "rules" && strings.HasSuffix(f.Name, ":html_password_form_offsite") && f.Part == "1.2" && f.Filename == "verify.html" && f.Version != "" && f.Description != ""
	}
	if !clam || !rule {
		t.Errorf("findings (clamd %v, rules %v): %+v", clam, rule, recs[0].Findings)
	}
	out, _ := ctl(t, cfg, "quarantine", "show", recs[0].ID)
	if !strings.Contains(out, "clamd: Eicar-Test-Signature quarantine") || !regexp.MustCompile(`rules: \S+:html_password_form_offsite quarantine in part 1\.2 \(verify\.html\)`).MatchString(out) {
		t.Errorf("show does not list both findings with their parts:\n%s", out)
	}
	if out, _ := ctl(t, cfg, "quarantine", "list", "--rule", "no_such_rule"); strings.Contains(out, recs[0].ID) {
		t.Errorf("list --rule no_such_rule:\n%s", out)
	}
}

// A really full filesystem (a 256 KiB tmpfs) fails the write mid-message:
// the client gets a tempfail, nothing partial is left, and the next
// message that fits is held. At the quota, on_full (tempfail) answers.
func TestQuarantineFull(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t, func(dir string) {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
	})
	send := func(size int) string {
		msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: big\r\nX-Test-Quarantine: kit\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", size/18) + "\r\n"
		return harness.Reply(e.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)).Err)
	}
	if got := send(1 << 20); !strings.HasPrefix(got, "451 4.7.1") {
		t.Fatalf("a message bigger than the disk: %q", got)
	}
	if recs, _ := e.store.List(context.Background(), quarantine.Filter{}); len(recs) != 0 {
		t.Errorf("a failed write left entries: %+v", recs)
	}
	if files, _ := os.ReadDir(filepath.Join(e.dir, "msg")); len(files) != 0 {
		t.Errorf("a failed write left files: %v", files)
	}
	if got := send(10 << 10); got != "250" {
		t.Fatalf("a message that fits, after the failure: %q", got)
	}
	// The quota: one entry, so the next is refused with on_full.
	e.store.SetQuota(0, 1)
	if got := send(10 << 10); !strings.HasPrefix(got, "451 4.7.1") || !strings.Contains(e.stack.Log.String(), "quarantine full") {
		t.Errorf("over the quota: %q", got)
	}
	if n, _, _ := e.store.Stats(context.Background()); n != 1 {
		t.Errorf("%d entries, want 1", n)
	}
}

// The digest summarises what was held; --mail sends it through the
// release path, so the abuse desk need not poll list.
func TestQuarantineDigest(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	for _, kit := range []string{"kit-a", "kit-b", "kit-a"} {
		msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: x\r\nX-Test-Quarantine: " + kit + "\r\n\r\nhello\r\n"
		if r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)); r.Err != nil {
			t.Fatalf("send: %s", harness.Reply(r.Err))
		}
	}
	var d digest
	for range 50 {
		out, _ := ctl(t, e.cfg, "quarantine", "digest", "--json")
		if json.Unmarshal([]byte(out), &d); d.Held == 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.Held != 3 || len(d.ByAccount) != 1 || d.ByAccount[0] != (count{harness.User, 3}) || len(d.Newest) != 3 || len(d.ByFinding) != 1 || d.ByFinding[0].Count != 3 {
		t.Fatalf("digest %+v", d)
	}
	cfg, _ := os.ReadFile(e.cfg)
	withTo := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(withTo, append(cfg, "  digest_to: abuse@isp.test\n"...), 0o644)
	if out, code := ctl(t, withTo, "quarantine", "digest", "--mail"); code != 0 || !strings.Contains(out, "mailed to abuse@isp.test: 250") {
		t.Fatalf("digest --mail (%d): %s", code, out)
	}
	got := e.stack.Sink.Wait(t, 1, 20*time.Second)[0]
	if got.Rcpts[0] != "abuse@isp.test" || !bytes.Contains(got.Data, []byte("3 held")) || !bytes.Contains(got.Data, []byte(d.Newest[0].ID)) {
		t.Errorf("mailed digest:\n%s", got.Data)
	}
}

// The MTA took the released message (250), but marking the entry released
// failed: here the index is locked by another writer longer than the busy
// timeout while the MTA answers. milterctl says so, exits 3, and the entry
// stays "releasing", so it cannot be released a second time.
func TestReleaseDeliveredButNotMarked(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	recs := e.hold(t, "locked")
	// A release address that, once it has the message, locks the index
	// for longer than the store's busy timeout (10 s), then answers 250.
	unlocked := make(chan struct{})
	addr, _ := fakeMTA(t, func(c net.Conn) bool {
		db, err := sql.Open("sqlite", filepath.Join(e.dir, "index.db"))
		if err != nil {
			t.Error(err)
			return false
		}
		tx, err := db.Begin()
		if err == nil {
			_, err = tx.Exec(`UPDATE entries SET t = t WHERE id = ?`, recs[0].ID) // takes the write lock
		}
		if err != nil {
			t.Error(err)
		}
		fmt.Fprint(c, "250 2.0.0 queued as LOCKED\r\n")
		go func() { time.Sleep(12 * time.Second); tx.Rollback(); db.Close(); close(unlocked) }()
		return true
	})
	cfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir: /tmp\nquarantine:\n  dir: %s\n  release_address: %s\n", e.dir, addr)), 0o644)
	out, code := ctl(t, cfg, "quarantine", "release", recs[0].ID)
	if code != 3 || !strings.Contains(out, "released (250 2.0.0 queued as LOCKED), but not marked released") || !strings.Contains(out, "do not release it again") {
		t.Fatalf("release (%d): %s", code, out)
	}
	<-unlocked
	if rec, err := e.store.Get(context.Background(), recs[0].ID); err != nil || rec.State != quarantine.Releasing {
		t.Fatalf("after a delivered, unmarked release: %+v %v", rec.State, err)
	}
	if out, code := ctl(t, cfg, "quarantine", "release", recs[0].ID); code != 1 || !strings.Contains(out, "being released") {
		t.Errorf("second release (%d): %s", code, out)
	}
}

// milterctl quarantine migrate copies a host's local quarantine into the
// shared one named by the config, and says what it did; run again, it
// copies nothing twice.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dir := harness.Dir(t, "q")
	local, err := quarantine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"Subject: one\r\n\r\nx\r\n", "Subject: two\r\n\r\ny\r\n"} {
		if _, err := local.Put(context.Background(), quarantine.Record{Time: time.Now(), User: "alice"}, strings.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	local.Close()
	pg := harness.StartPostgres(t)
	cfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir: /tmp\npostgres: {dsn: %q}\nquarantine: {store: postgres, dir: %s}\n", pg.DSN, dir)), 0o644)
	if out, code := ctl(t, cfg, "quarantine", "migrate"); code != 0 || strings.Count(out, ": copied\n") != 2 || !strings.Contains(out, "2 entries copied from "+dir) {
		t.Fatalf("migrate (%d):\n%s", code, out)
	}
	if out, code := ctl(t, cfg, "quarantine", "migrate"); code != 0 || strings.Count(out, ": already there\n") != 2 || !strings.Contains(out, "0 entries copied") {
		t.Errorf("migrate again (%d):\n%s", code, out)
	}
	if out, code := ctl(t, cfg, "quarantine", "list"); code != 0 || strings.Count(out, "alice") != 2 {
		t.Errorf("list of the shared store (%d):\n%s", code, out)
	}
	localCfg := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(localCfg, []byte(fmt.Sprintf("state_dir: /tmp\nquarantine: {dir: %s}\n", dir)), 0o644)
	if out, code := ctl(t, localCfg, "quarantine", "migrate"); code != 1 || !strings.Contains(out, "set quarantine.store: postgres first") {
		t.Errorf("migrate on a local config (%d):\n%s", code, out)
	}
}

// A release to another recipient (--to) says where the message went, in
// the audit trail and in show; before, both read as a normal release.
func TestReleaseToRecorded(t *testing.T) {
	t.Parallel()
	e := startQuarantine(t)
	msg := "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: Invoice\r\nX-Test-Quarantine: phish kit\r\n\r\n" + qbody
	if r := e.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)); r.Err != nil {
		t.Fatalf("quarantined message: %s", harness.Reply(r.Err))
	}
	var recs []quarantine.Record
	for i := 0; i < 100 && len(recs) == 0; i++ {
		out, _ := ctl(t, e.cfg, "quarantine", "list", "--json")
		json.Unmarshal([]byte(out), &recs)
		time.Sleep(50 * time.Millisecond)
	}
	if len(recs) != 1 {
		t.Fatalf("%d entries held", len(recs))
	}
	id := recs[0].ID
	if out, code := ctl(t, e.cfg, "quarantine", "release", id, "--to", "abuse-desk@remote.test"); code != 0 || !strings.Contains(out, "to abuse-desk@remote.test") {
		t.Fatalf("release --to (%d):\n%s", code, out)
	}
	if got := e.stack.Sink.Wait(t, 1, 10*time.Second)[0]; len(got.Rcpts) != 1 || got.Rcpts[0] != "abuse-desk@remote.test" {
		t.Errorf("released to %v", got.Rcpts)
	}
	audit, _ := ctl(t, e.cfg, "quarantine", "audit", id, "--json")
	if !strings.Contains(audit, `"action":"release"`) || !strings.Contains(audit, "to abuse-desk@remote.test instead of the original recipients") {
		t.Errorf("audit trail does not say where it went:\n%s", audit)
	}
	show, _ := ctl(t, e.cfg, "quarantine", "show", id)
	if !regexp.MustCompile(`Released: +by .* to abuse-desk@remote.test instead of the original recipients`).MatchString(show) {
		t.Errorf("show does not say where it went:\n%s", show)
	}
	js, _ := ctl(t, e.cfg, "quarantine", "show", id, "--json")
	if !strings.Contains(js, `"to":["abuse-desk@remote.test"]`) {
		t.Errorf("show --json lacks the release's recipients:\n%s", js)
	}
}
