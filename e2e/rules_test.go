package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/config"
	"outguard/internal/harness"
	"outguard/milter"
	"outguard/policy"
	"outguard/quarantine"
	"outguard/setup"
)

func sendFile(t *testing.T, s *harness.Stack, name string) harness.Result {
	data, err := os.ReadFile("../testdata/messages/" + name + ".eml")
	if err != nil {
		t.Fatal(err)
	}
	return s.Dial(t).SendFrom("alice@customer.test", []string{"bob@remote.test"}, strings.NewReader(string(data)))
}

// Each shipped rule's trigger message through the real Postfix gets the
// rule's action.
func TestShippedRulesThroughPostfix(t *testing.T) {
	t.Parallel()
	abs, _ := filepath.Abs("../rules") // the shipped rules
	s, _, res := harness.ConfigStack(t, "header: {detail: full}\nrules: {dir: "+abs+", watch: false}\nquarantine: {}\n", harness.MTAConfig{})
	cases := []struct{ msg, want, rule string }{
		{"05-zip-in-zip", "550 5.7.1 Message rejected by outbound policy (ref ", "executable_attachment"},
		{"04-rfc2231-filename", "550 5.7.1 Message rejected by outbound policy (ref ", "double_extension"},
		{"18-script-attachment", "550 5.7.1 Message rejected by outbound policy (ref ", "script_attachment"},
		{"16-elf-named-txt", "550 5.7.1", "executable_attachment"},
		{"12-office-macro", "250", "office_vba_macro"},
		{"13-phishing-form", "250", "html_password_form_offsite"},
		{"15-encrypted-zip", "250", "encrypted_zip"},
		{"03-rfc822-attachment", "250", "eicar_test_string"},
		{"14-html-form-onsite", "250", ""},
		// Nothing leaves unscanned: below the nesting limit, past the part
		// limit, behind a plain zip member, past the expansion ratio.
		{"19-deep-nesting", "250", "tagged eicar_test_string"},
		{"20-part-1002", "250", "tagged eicar_test_string"},
		{"21-encrypted-behind-plain", "250", "encrypted_zip in 1.2/invoice.zip/invoice.exe"},
		{"22-gzip-10mib", "250", "rules: not fully scanned (limit at 1.2/log.gz/log)"},
	}
	for _, c := range cases {
		before := len(s.Log.String())
		r := sendFile(t, s, c.msg)
		if got := harness.Reply(r.Err); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q", c.msg, got, c.want)
		}
		if c.rule != "" && !strings.Contains(s.Log.String()[before:], c.rule) {
			t.Errorf("%s: its verdict line does not name %s:\n%s", c.msg, c.rule, s.Log.String()[before:])
		}
	}
	held, _ := res.Quarantine.List(context.Background(), quarantine.Filter{})
	if len(held) != 4 {
		t.Errorf("%d messages quarantined, want the macro, the phishing form and the two encrypted zips", len(held))
	}
	for _, h := range held {
		if !strings.Contains(h.Reason, "rules ") {
			t.Errorf("quarantine record does not carry the rules version: %q", h.Reason)
		}
	}
	msgs := s.Sink.Wait(t, 2, 10*time.Second)
	var tagged bool
	for _, m := range msgs {
		if strings.Contains(string(m.Data), "rules: tagged eicar_test_string") {
			tagged = true
		}
	}
	if !tagged {
		t.Errorf("the tag rule did not stamp the header")
	}
}

const ruleFile = `rule %s { meta: action = "reject" description = "test" strings: $w = "%s" condition: $w }`

// Hot reload while mail flows: valid → broken (old set kept, error with
// file:line logged) → fixed (new set active).
func TestHotReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(content string) {
		// Write then rename, as editors and deploy tools do.
		os.WriteFile(filepath.Join(dir, ".tmp"), []byte(content), 0o644)
		os.Rename(filepath.Join(dir, ".tmp"), filepath.Join(dir, "team.yar"))
	}
	write(fmt.Sprintf(ruleFile, "first", "BADWORD"))
	cfg, err := config.Parse("t.yaml", []byte("state_dir: /tmp\nrules: {dir: "+dir+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &harness.LogBuffer{}
	log := harness.Logger(t, logs)
	eng, err := setup.RulesEngine(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Watch(ctx, dir)
	s := harness.StartStack(t, harness.StackConfig{State: func(*slog.Logger) *milter.State {
		return &milter.State{Pipeline: policy.NewPipeline(log, policy.Entry{Check: eng, OnError: policy.Tempfail}), HeaderName: "X-Outguard", Version: "t", SpoolLimit: 1 << 20, ProgressInterval: 10 * time.Second}
	}})
	send := func(word string) string {
		r := s.Dial(t).Send("alice@customer.test", []string{"bob@remote.test"}, harness.Msg("alice@customer.test", "bob@remote.test", "w", "text with "+word))
		return harness.Reply(r.Err)
	}
	waitLog := func(what string, n int) {
		t.Helper()
		for i := 0; i < 100 && strings.Count(logs.String(), what) < n; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if strings.Count(logs.String(), what) < n {
			t.Fatalf("log never said %q", what)
		}
	}
	if got := send("BADWORD"); !strings.HasPrefix(got, "550") {
		t.Fatalf("first set: %s", got)
	}
	v1 := eng.Set().Version

	write("rule broken { condition: $nope }")
	waitLog("rules reload failed", 1)
	if !strings.Contains(logs.String(), "team.yar:1: undefined string \\\"$nope\\\"") {
		t.Errorf("compiler error lacks file:line:\n%s", logs.String())
	}
	if got := send("BADWORD"); !strings.HasPrefix(got, "550") || eng.Set().Version != v1 {
		t.Fatalf("after a broken edit the old set must stay: %s", got)
	}

	write(fmt.Sprintf(ruleFile, "second", "OTHERWORD"))
	waitLog("rules reloaded", 1)
	if got := send("OTHERWORD"); !strings.HasPrefix(got, "550") {
		t.Fatalf("new set: %s", got)
	}
	if got := send("BADWORD"); got != "250" {
		t.Fatalf("old rule still active: %s", got)
	}
	if eng.Set().Version == v1 {
		t.Error("version did not change")
	}
}

// Attacker-chosen archive member names (ESC, BEL, CR, LF, a header line)
// on 30 findings, through the real Postfix with header.detail full: the
// stamped header that reaches the recipient is one printable line of at
// most the bound, says how many notes it left out, and injects nothing.
func TestHostileNamesInTheHeader(t *testing.T) {
	t.Parallel()
	abs, _ := filepath.Abs("../rules") // the shipped rules
	s, _, _ := harness.ConfigStack(t, "header: {detail: full}\nrules: {dir: "+abs+", watch: false}\n", harness.MTAConfig{})
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for i := range 30 {
		// Zeros far over the expansion ratio: each member is a limit
		// finding that names it.
		w, _ := zw.Create(fmt.Sprintf("\x1b]0;owned\x07%02d\r\nInjected: yes\r\n.txt", i))
		w.Write(make([]byte, 1<<20))
	}
	zw.Close()
	msg := "From: <alice@customer.test>\r\nTo: <bob@remote.test>\r\nSubject: names\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n" +
		"Content-Type: application/zip; name=x.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(zb.Bytes()) + "\r\n--b--\r\n"
	if r := s.Dial(t).SendFrom("alice@customer.test", []string{"bob@remote.test"}, strings.NewReader(msg)); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	m := s.Sink.Wait(t, 1, 20*time.Second)[0]
	head, _, _ := strings.Cut(string(m.Data), "\r\n\r\n")
	if strings.Contains(head, "\r\nInjected:") || strings.ContainsAny(head, "\x1b\x07") {
		t.Fatalf("hostile names reached the header block:\n%q", head)
	}
	var stamp string
	for _, l := range strings.Split(strings.ReplaceAll(head, "\r\n\t", " "), "\r\n") { // unfold
		if strings.HasPrefix(l, "X-Outguard:") {
			stamp = l
		}
	}
	// RFC 5322 2.1.1: a line of at most 998 characters.
	if !strings.HasPrefix(stamp, "X-Outguard: accepted, not fully checked") || !strings.Contains(stamp, "; +21 more") || !strings.Contains(stamp, "?]0;owned?00??Injected: yes??.txt") || len(stamp) > 998 {
		t.Fatalf("stamp (%d bytes): %q", len(stamp), stamp)
	}
}
