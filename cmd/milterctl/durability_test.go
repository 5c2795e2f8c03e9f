package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/quarantine"
)

// TestQuarantineSurvivesSIGKILLBeforeTheReply: the real milterd runs under
// strace, which holds every write(2) for 100 ms before it is made: the
// quarantine is committed with pwrite and fsync, then milterd writes its
// audit line and its reply to Postfix with write(2), so once the entry is
// visible there is a window before the reply. milterd is killed with
// SIGKILL in it. The message must be in the quarantine, and Postfix must
// have tempfailed it: nothing lost.
func TestQuarantineSurvivesSIGKILLBeforeTheReply(t *testing.T) {
	t.Parallel()
	harness.Require(t, "strace")
	dir := harness.Dir(t, "kill")
	bin := harness.Build(t, dir, "milterd")
	rulesDir, _ := filepath.Abs("../../rules")
	sock := filepath.Join(dir, "m.sock")
	cfg := filepath.Join(dir, "milterd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nsocket_mode: \"0666\"\nstate_dir: %s\nrules: {dir: %s, watch: false}\nquarantine: {}\n", sock, dir, rulesDir)), 0o644)
	var log bytes.Buffer
	cmd := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=write", "-e", "inject=write:delay_enter=100000", bin, "-config", cfg)
	cmd.Stderr = &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-done })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 1000 {
			t.Fatalf("milterd did not start:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sink := harness.StartSink(t)
	pf := harness.StartPostfix(t, harness.MTAConfig{Milter: "unix:" + sock, RelayPort: sink.Port, Users: map[string]string{harness.User: harness.Pass}})

	data, _ := os.ReadFile("../../testdata/messages/13-phishing-form.eml")
	reply := make(chan string, 1)
	go func() {
		c := harness.Dial(t, pf.Addr(), harness.User, harness.Pass)
		r := c.SendFrom("alice@customer.test", []string{"bob@remote.test"}, bytes.NewReader(data))
		reply <- harness.Reply(r.Err)
	}()
	// The entry is committed (readable by another process) before milterd
	// writes its reply: kill it then.
	var held []quarantine.Record
	for i := 0; len(held) == 0; i++ {
		if i > 3000 {
			t.Fatalf("no quarantine entry appeared:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
		if q, err := quarantine.Open(filepath.Join(dir, "quarantine")); err == nil {
			held, _ = q.List(context.Background(), quarantine.Filter{})
			q.Close()
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	got := <-reply
	if !strings.HasPrefix(got, "451 4.7.1") {
		t.Fatalf("Postfix said %q after milterd died before replying; want a tempfail", got)
	}
	q, err := quarantine.Open(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	msg, rec, err := q.Message(context.Background(), held[0].ID)
	if err != nil || !bytes.Contains(msg, []byte("verify your account")) || rec.State != quarantine.Held {
		t.Fatalf("after SIGKILL the quarantine holds %+v, %v", rec, err)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}
