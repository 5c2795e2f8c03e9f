package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

// Rotation by rename while the writer keeps writing to the renamed file:
// Postfix's postlogd writes to the file it has open until it is told to
// reopen (postfix reload, or postfix logrotate), as rsyslog does until its
// HUP. The bounce written to the renamed file after the follower saw the
// new one is still counted, and so is the next one, in the new file.
func TestRenamedLogStillWritten(t *testing.T) {
	t.Parallel()
	s, cfg, res := harness.ConfigStack(t, "limits: {}\n", harness.MTAConfig{Main: map[string]string{"bounce_notice_recipient": "postmaster"}})
	for _, a := range []string{"gone1@remote.test", "gone2@remote.test", "gone3@remote.test"} {
		s.Sink.Refuse(a)
	}
	buf := followLog(t, &limits.Follower{Path: s.Postfix.Log, RenameQuiet: 3 * time.Second}, cfg, res)
	send := func(to string) {
		t.Helper()
		if r := s.Dial(t).Send("alice@customer.test", []string{to}, harness.Msg("alice@customer.test", to, "to "+to, "hi")); r.Err != nil {
			t.Fatalf("send: %s", harness.Reply(r.Err))
		}
	}
	undeliverable := func() int { u, _ := counts(t, res.Store, harness.User); return u }
	waitFor(t, "the follower", func() bool { return strings.Contains(buf.String(), "following mail log") })
	send("gone1@remote.test")
	waitFor(t, "the first bounce", func() bool { return undeliverable() == 1 })

	// logrotate: rename, create; Postfix not told yet.
	old := s.Postfix.Log + ".1"
	if err := os.Rename(s.Postfix.Log, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Postfix.Log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower on the new file", func() bool { return strings.Count(buf.String(), "following mail log") == 2 })
	send("gone2@remote.test")
	waitFor(t, "the bounce in the renamed file", func() bool {
		b, _ := os.ReadFile(old)
		return strings.Contains(string(b), "to=<gone2@remote.test>") && strings.Contains(string(b), "status=bounced")
	})
	waitFor(t, "the bounce written to the renamed file counted", func() bool { return undeliverable() == 2 })

	// Postfix reopens: the next lines go to the new file.
	if out, err := exec.Command("postfix", "-c", s.Postfix.Dir, "reload").CombinedOutput(); err != nil {
		t.Fatalf("postfix reload: %v %s", err, out)
	}
	time.Sleep(time.Second) // postlogd restarts
	send("gone3@remote.test")
	waitFor(t, "the bounce in the new file", func() bool { return undeliverable() == 3 })
	waitFor(t, "the renamed file closed once quiet", func() bool { return strings.Contains(buf.String(), "done with the rotated file") })
}

// The systemd journal as the source: real journal files written by
// systemd-journal-remote from what a real Postfix logs, read by cursor.
// The first start begins at the end (an earlier bounce is history) and
// keeps that position; a follower restarted resumes after the last entry
// it read, so a bounce logged while it was stopped is counted, once.
func TestJournalSource(t *testing.T) {
	t.Parallel()
	s, cfg, res := harness.ConfigStack(t, "limits: {}\n", harness.MTAConfig{Main: map[string]string{"bounce_notice_recipient": "postmaster"}})
	for i := range 4 {
		s.Sink.Refuse(fmt.Sprintf("gone%d@remote.test", i))
	}
	j := harness.StartJournal(t)
	j.Pump(t, s.Postfix.Log)
	send := func(to string) {
		t.Helper()
		if r := s.Dial(t).Send("alice@customer.test", []string{to}, harness.Msg("alice@customer.test", to, "to "+to, "hi")); r.Err != nil {
			t.Fatalf("send: %s", harness.Reply(r.Err))
		}
	}
	inJournal := func(what string) {
		t.Helper()
		waitFor(t, what+" in the journal", func() bool {
			out, _ := exec.Command("journalctl", "--directory", j.Dir, "-o", "cat").Output()
			return strings.Contains(string(out), what)
		})
	}
	undeliverable := func() int { u, _ := counts(t, res.Store, harness.User); return u }
	send("gone0@remote.test")
	inJournal("to=<gone0@remote.test>")

	start := func() func() {
		ctx, cancel := context.WithCancel(context.Background())
		f := &limits.Follower{Source: "journal", Path: j.Dir, Poll: 50 * time.Millisecond}
		buf := &harness.LogBuffer{}
		log := harness.Logger(t, buf)
		eng := mustEngine(t, cfg, res, log)
		f.Engine, f.Log, f.PosFile = eng, log, filepath.Join(cfg.StateDir, "maillog.pos")
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		waitFor(t, "journalctl", func() bool { return strings.Contains(buf.String(), "following the journal") })
		return func() { cancel(); <-done }
	}
	// The first start begins at the end, and keeps it at once: stopped
	// before any mail came, it resumes there.
	stop := start()
	stop()
	send("gone1@remote.test")
	inJournal("to=<gone1@remote.test>")
	stop = start()
	waitFor(t, "the bounce from the journal", func() bool { return undeliverable() == 1 })
	if evs, _ := res.Store.Undeliverables(context.Background(), harness.User, time.Now().Add(-time.Hour)); evs[0].Rcpt != "gone1@remote.test" || evs[0].QueueID == "" {
		t.Errorf("counted %+v: want gone1 only (gone0 is from before the first start)", evs)
	}
	stop()
	send("gone2@remote.test")
	inJournal("to=<gone2@remote.test>")
	if b, _ := os.ReadFile(filepath.Join(cfg.StateDir, "maillog.pos")); !strings.HasPrefix(string(b), "cursor s=") {
		t.Errorf("saved position %q, want a journal cursor", b)
	}
	stop = start()
	defer func() { stop() }()
	waitFor(t, "the bounce logged while stopped", func() bool { return undeliverable() == 2 })
	send("gone3@remote.test")
	waitFor(t, "the next bounce", func() bool { return undeliverable() == 3 })
}

// A missing journal directory is an error at once, naming what to check.
func TestJournalMissing(t *testing.T) {
	t.Parallel()
	f := &limits.Follower{Source: "journal", Path: filepath.Join(t.TempDir(), "nowhere"), PosFile: filepath.Join(t.TempDir(), "pos"), Poll: 50 * time.Millisecond,
		Engine: &limits.Engine{}, Log: harness.Logger(t, &harness.LogBuffer{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the error", func() bool { err := f.Health(ctx); return err != nil && strings.Contains(err.Error(), "nowhere") })
	if f.Lag() <= 0 {
		t.Errorf("lag %v", f.Lag())
	}
}

// milterd, run as an unprivileged user as packaged, with the mail log
// path of a Debian without a syslog daemon (no such file), then a log it
// may not read (root:adm 0640 and no adm group), then a log that stays
// silent while Postfix passes it mail, then (reloaded) a journal it may
// not read: each time /readyz turns not ready within seconds, names the
// fix, and outguard_up{component="maillog"} is 0; while the log is missing
// outguard_maillog_lag_seconds grows.
func TestMilterdMaillogReadiness(t *testing.T) {
	t.Parallel()
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := harness.Dir(t, "maillog")
	os.Chmod(dir, 0o755)
	bin := harness.Build(t, dir, "milterd")
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	os.Chown(state, uid, gid)
	logs := filepath.Join(dir, "log")
	os.Mkdir(logs, 0o755)
	maillog := filepath.Join(logs, "mail.log")
	sock := filepath.Join(state, "m.sock")
	cfg := filepath.Join(dir, "milterd.yaml")
	os.Chmod(state, 0o711)
	log := &harness.LogBuffer{}
	// The metrics port is one milterd itself holds, not only one free a
	// moment before it bound it.
	port, cmd, _ := harness.OwnPort(t, "milterd", 0, func(port int) *exec.Cmd {
		os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nsocket_mode: \"0666\"\nsocket_group: \"\"\nstate_dir: %s\nlimits:\n  maillog: {path: %s, silence: 2s}\nmetrics: {listen: \"127.0.0.1:%d\"}\n",
			sock, state, maillog, port)), 0o644)
		cmd := exec.Command(bin, "-config", cfg)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Stderr = log
		return cmd
	}, log.String)
	get := func(path string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	notReady := func(what string, want ...string) {
		t.Helper()
		var code int
		var body string
		says := func() bool {
			for _, w := range append(want, "\nmaillog: ") {
				if !strings.Contains(body, w) {
					return false
				}
			}
			return code == 503
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !says(); time.Sleep(100 * time.Millisecond) {
			code, body = get("/readyz")
		}
		if !says() {
			t.Fatalf("%s: /readyz %d %q, want 503 saying %q\n%s", what, code, body, want, log.String())
		}
		if _, m := get("/metrics"); !strings.Contains(m, `outguard_up{component="maillog"} 0`) {
			t.Errorf("%s: outguard_up does not show the mail log down", what)
		}
	}
	lag := func() float64 {
		_, m := get("/metrics")
		for _, l := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(l, "outguard_maillog_lag_seconds "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		t.Fatalf("no outguard_maillog_lag_seconds")
		return 0
	}
	ready := func(what string) {
		t.Helper()
		var code int
		var body string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if code, body = get("/readyz"); code == 200 {
				return
			}
		}
		t.Fatalf("%s: /readyz %d %q", what, code, body)
	}

	// 1. No such file (Debian 12 without rsyslog).
	notReady("missing log", "does not exist", "maillog_file = "+maillog)
	l1 := lag()
	time.Sleep(1100 * time.Millisecond)
	if l2 := lag(); l2 <= l1 || l1 <= 0 {
		t.Errorf("lag does not grow while the log is missing: %v then %v", l1, l2)
	}
	if n := strings.Count(log.String(), "does not exist"); n != 1 {
		t.Errorf("the missing log was logged %d times, want once", n)
	}
	// 2. rsyslog's root:adm 0640, milterd not in adm.
	os.WriteFile(maillog, nil, 0o640)
	adm, err := user.LookupGroup("adm")
	if err == nil {
		g, _ := strconv.Atoi(adm.Gid)
		os.Chown(maillog, 0, g)
		notReady("unreadable log", "not readable", "group adm")
	}
	// 3. Readable: ready.
	os.Chmod(maillog, 0o644)
	ready("readable log")
	if lag() > 1 {
		t.Errorf("lag %v while following", lag())
	}
	// 4. Postfix passes mail through milterd but logs elsewhere.
	s := harness.StartSink(t)
	pf := harness.StartPostfix(t, harness.MTAConfig{Milter: "unix:" + sock, RelayPort: s.Port, Users: map[string]string{harness.User: harness.Pass}})
	if r := harness.Dial(t, pf.Addr(), harness.User, harness.Pass).Send("alice@customer.test", []string{"x@remote.test"}, harness.Msg("alice@customer.test", "x@remote.test", "hi", "hi")); r.Err != nil {
		t.Fatalf("send: %s\n%s", harness.Reply(r.Err), log.String())
	}
	notReady("silent log", "no mail log line", "does not log to "+maillog)
	// 5. Postfix's lines reach it: ready again.
	b, _ := os.ReadFile(pf.Log)
	os.WriteFile(maillog, b, 0o644)
	ready("log written")

	// 6. The journal (a reload), whose files milterd's user may not read.
	j := harness.StartJournal(t)
	j.Write("postfix/qmgr", "1", "ABCDE12345: removed")
	waitFor(t, "the journal file", func() bool { _, err := os.Stat(filepath.Join(j.Dir, "remote.journal")); return err == nil })
	os.Chmod(filepath.Join(j.Dir, "remote.journal"), 0o640)
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nsocket_mode: \"0666\"\nsocket_group: \"\"\nstate_dir: %s\nlimits:\n  maillog: {source: journal, path: %s, silence: 2s}\nmetrics: {listen: \"127.0.0.1:%d\"}\n",
		sock, state, j.Dir, port)), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	notReady("unreadable journal", "group systemd-journal")
	// 7. Readable: ready.
	os.Chmod(filepath.Join(j.Dir, "remote.journal"), 0o644)
	ready("readable journal")
}

// The journal source through a store outage: Redis hangs while a bounce is
// read; nothing is lost, the entry is read again from the saved cursor
// once Redis answers, and counted once.
func TestJournalStoreOutage(t *testing.T) {
	t.Parallel()
	rd := harness.StartRedis(t)
	s, cfg, res := harness.ConfigStack(t, fmt.Sprintf("limits:\n  store: redis\n  redis: {address: %q}\n", rd.Addr), harness.MTAConfig{Main: map[string]string{"bounce_notice_recipient": "postmaster"}})
	s.Sink.Refuse("gone1@remote.test")
	s.Sink.RefuseAfter("gone2@remote.test", 2*time.Second) // the bounce comes once Redis hangs
	j := harness.StartJournal(t)
	j.Pump(t, s.Postfix.Log)
	buf := followLog(t, &limits.Follower{Source: "journal", Path: j.Dir, FromStart: true}, cfg, res)
	waitFor(t, "journalctl", func() bool { return strings.Contains(buf.String(), "following the journal") })
	send := func(to string) {
		t.Helper()
		if r := s.Dial(t).Send("alice@customer.test", []string{to}, harness.Msg("alice@customer.test", to, "to "+to, "hi")); r.Err != nil {
			t.Fatalf("send: %s", harness.Reply(r.Err))
		}
	}
	undeliverable := func() int { u, _ := counts(t, res.Store, harness.User); return u }
	send("gone1@remote.test")
	waitFor(t, "the first bounce", func() bool { return undeliverable() == 1 })
	// Redis hangs once the message is admitted (milterd would tempfail
	// it before), while its bounce is read.
	send("gone2@remote.test")
	rd.Pause()
	waitFor(t, "the failed commit", func() bool { return strings.Contains(buf.String(), "not counted, will read again") })
	rd.Resume()
	waitFor(t, "the bounce read again", func() bool { return undeliverable() == 2 })
	time.Sleep(500 * time.Millisecond)
	if n := undeliverable(); n != 2 {
		t.Errorf("%d undeliverable recipients, want 2", n)
	}
}
