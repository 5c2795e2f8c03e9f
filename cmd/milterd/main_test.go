package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"outguard/internal/harness"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "milterd-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "milterd")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestCheckConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "milterd.yaml")
	os.WriteFile(bad, []byte("listen: unix:/tmp/x.sock\nlog:\n  format: text\n  colour: true\n"), 0o644)
	out, err := exec.Command(binary, "-config", bad, "-check-config").CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("bad config: exit %d, want 1", code)
	}
	if want := "milterd: " + bad + ":4: log.colour: unknown key\n"; string(out) != want {
		t.Errorf("bad config said %q, want %q", out, want)
	}
	out, err = exec.Command(binary, "-config", "../../etc/milterd.example.yaml", "-check-config").CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), ": ok\n") {
		t.Errorf("example config: %v %s", err, out)
	}
	out, err = exec.Command(binary, "-config", "/nonexistent.yaml", "-check-config").CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "no such file") {
		t.Errorf("missing config: %v %s", err, out)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// proc is a running milterd binary.
type proc struct {
	cmd    *exec.Cmd
	log    *harness.LogBuffer
	socket string
	config string
	done   chan error
}

func configText(socket, header string) string {
	return fmt.Sprintf("listen: unix:%s\nstate_dir: /tmp\nheader:\n  name: %s\nshutdown_timeout: 5s\n", socket, header)
}

func startDaemon(t *testing.T, args ...string) *proc {
	dir := t.TempDir()
	d := &proc{log: &harness.LogBuffer{}, socket: filepath.Join(dir, "m.sock"), config: filepath.Join(dir, "milterd.yaml"), done: make(chan error, 1)}
	os.WriteFile(d.config, []byte(configText(d.socket, "X-First")), 0o644)
	d.start(t, append([]string{binary, "-config", d.config}, args...)...)
	return d
}

// start runs command (milterd, or a command that runs it) logging to
// d.log, and waits until milterd has started; it is killed at cleanup.
func (d *proc) start(t *testing.T, command ...string) {
	t.Helper()
	d.cmd = exec.Command(command[0], command[1:]...)
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.cmd.Process.Kill() })
	d.waitLog(t, "milterd started")
}

// readyz is the status and body of /readyz on the metrics port.
func readyz(t *testing.T, port int) (int, string) { return metricsGet(t, port, "/readyz") }

// metricsGet is the status and body of path on the metrics port.
func metricsGet(t *testing.T, port int, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitLog waits for s in the log, which reaches d.log through a pipe
// another goroutine copies: a line written before a reply may not be there
// yet when the reply is read.
func (d *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	if d.logCount(s, 1) == 0 {
		t.Fatalf("log never said %q:\n%s", s, tail(d.log.String()))
	}
}

// waitLogCount waits until s occurs n times and fails unless it occurs
// exactly n times.
func (d *proc) waitLogCount(t *testing.T, s string, n int) {
	t.Helper()
	if got := d.logCount(s, n); got != n {
		t.Fatalf("log said %q %d times, want %d:\n%s", s, got, n, tail(d.log.String()))
	}
}

// logCount returns how often s occurs in the log once it occurs n times or
// five seconds have passed.
func (d *proc) logCount(s string, n int) int {
	got := 0
	for i := 0; i < 500; i++ {
		if got = strings.Count(d.log.String(), s); got >= n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

func (d *proc) signal(t *testing.T, s syscall.Signal) {
	if err := d.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

// send runs one whole message through the milter and returns the stamp.
func send(t *testing.T, socket string) string {
	t.Helper()
	mods, act := harness.MilterSend(t, socket, []byte("x\r\n"))
	if act.Type != gomilter.ActionAccept || len(mods) != 1 {
		t.Fatalf("end: %+v %+v", act, mods)
	}
	return mods[0].HeaderName
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	d := startDaemon(t)
	if h := send(t, d.socket); h != "X-First" {
		t.Fatalf("stamp %q", h)
	}
	os.WriteFile(d.config, []byte(configText(d.socket, "X-Second")+"bogus: 1\n"), 0o644)
	d.signal(t, syscall.SIGHUP)
	d.waitLog(t, "reload failed")
	if !strings.Contains(d.log.String(), "bogus: unknown key") {
		t.Errorf("reload error does not name the key:\n%s", d.log.String())
	}
	if h := send(t, d.socket); h != "X-First" {
		t.Fatalf("after a failed reload the stamp is %q, want the old X-First", h)
	}
	os.WriteFile(d.config, []byte(configText(d.socket, "X-Second")), 0o644)
	d.signal(t, syscall.SIGHUP)
	d.waitLog(t, "config reloaded")
	if h := send(t, d.socket); h != "X-Second" {
		t.Fatalf("after reload the stamp is %q, want X-Second", h)
	}
	d.signal(t, syscall.SIGTERM)
	if err := <-d.done; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.log.String())
	}
}

// -listen overrides the file's listen at start and at every reload: no
// "changes at restart" warning, and the flag's socket keeps serving.
func TestListenFlagSurvivesReload(t *testing.T) {
	flagSock := filepath.Join(t.TempDir(), "flag.sock")
	d := startDaemon(t, "-listen", "unix:"+flagSock)
	if h := send(t, flagSock); h != "X-First" {
		t.Fatalf("stamp %q", h)
	}
	os.WriteFile(d.config, []byte(configText(d.socket, "X-Second")), 0o644)
	d.signal(t, syscall.SIGHUP)
	d.waitLog(t, "config reloaded")
	if strings.Contains(d.log.String(), "next restart") {
		t.Errorf("reload warned about a listen change the flag did not make:\n%s", d.log.String())
	}
	if h := send(t, flagSock); h != "X-Second" {
		t.Fatalf("after reload the flag's socket stamps %q, want X-Second", h)
	}
}

func TestStopDrainsSessions(t *testing.T) {
	d := startDaemon(t)
	s, err := gomilter.NewClient("unix", d.socket).Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	s.Conn("h", gomilter.FamilyInet, 1, "127.0.0.1")
	s.Helo("h")
	s.Mail("a@example.net", "")
	d.signal(t, syscall.SIGTERM)
	d.waitLog(t, "draining sessions")
	select {
	case err := <-d.done:
		t.Fatalf("exited with a session open: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The open session finishes its message normally.
	s.Rcpt("b@remote.test", "")
	s.DataStart()
	s.HeaderField("Subject", " x", nil)
	s.HeaderEnd()
	s.BodyChunk([]byte("x\r\n"))
	if _, act, err := s.End(); err != nil || act.Type != gomilter.ActionAccept {
		t.Fatalf("message during drain: %v %+v", err, act)
	}
	s.Close()
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit after the last session ended")
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	d := startDaemon(t)
	s, err := gomilter.NewClient("unix", d.socket).Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Conn("h", gomilter.FamilyInet, 1, "127.0.0.1")
	d.signal(t, syscall.SIGTERM)
	d.waitLog(t, "draining sessions")
	d.signal(t, syscall.SIGINT)
	select {
	case <-d.done:
		if !strings.Contains(d.log.String(), "second signal") {
			t.Errorf("log:\n%s", d.log.String())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("second signal did not stop milterd")
	}
}

// The shipped unit passes systemd-analyze verify (the binary path pointed
// at the one just built; man pages are checked by make man, not here).
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is not installed: run .ci/run (apt-get install systemd)")
	}
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"milterd.service", "outguard-digest.service", "outguard-digest.timer", "relayprobe.service", "relayprobe.timer", "relayprobe-listings.service", "relayprobe-listings.timer", "outguard-web.service"} {
		unit, err := os.ReadFile("../../etc/systemd/" + name)
		if err != nil {
			t.Fatal(err)
		}
		// The binaries the units name, as one built here (not installed):
		// verify wants an executable at the path.
		text := strings.NewReplacer("/usr/sbin/milterd", binary, "/usr/sbin/milterctl", binary, "/usr/sbin/relayprobe", binary).Replace(string(unit))
		paths = append(paths, filepath.Join(dir, name))
		os.WriteFile(paths[len(paths)-1], []byte(text), 0o644)
	}
	out, err := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// serviceSettings are a unit file's [Service] settings.
func serviceSettings(t *testing.T, name string) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../../etc/systemd/" + name)
	if err != nil {
		t.Fatal(err)
	}
	out, section := map[string]string{}, ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			section = line
		} else if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// The web console's unit runs `milterctl web` as the stores' owner with
// every sandboxing setting of milterd's unit, and make install lays out
// (and uninstall removes) every shipped unit.
func TestWebUnit(t *testing.T) {
	milterd, console := serviceSettings(t, "milterd.service"), serviceSettings(t, "outguard-web.service")
	if console["ExecStart"] != "/usr/sbin/milterctl web -config /etc/outguard/milterd.yaml" {
		t.Errorf("ExecStart=%s", console["ExecStart"])
	}
	for k, v := range milterd {
		sandbox := false
		for _, p := range []string{"Protect", "Private", "Restrict", "NoNewPrivileges", "LockPersonality", "MemoryDenyWriteExecute", "SystemCall", "CapabilityBoundingSet", "User", "Group", "UMask", "StateDirectory", "ReadOnlyPaths"} {
			sandbox = sandbox || strings.HasPrefix(k, p)
		}
		if sandbox && console[k] != v {
			t.Errorf("outguard-web.service has %s=%q, milterd.service %q", k, console[k], v)
		}
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	install, uninstall, _ := strings.Cut(string(makefile), "\nuninstall:")
	units, _ := filepath.Glob("../../etc/systemd/*")
	for _, u := range units {
		dest := "$(DESTDIR)/lib/systemd/system/" + filepath.Base(u)
		if !strings.Contains(install, "etc/systemd/"+filepath.Base(u)+" "+dest) || !strings.Contains(uninstall, dest) {
			t.Errorf("make install or uninstall leaves out %s", filepath.Base(u))
		}
	}
}

// The example alert rules pass promtool.
func TestAlertRules(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool is not installed: run .ci/run (apt-get install prometheus)")
	}
	out, err := exec.Command("promtool", "check", "rules", "../../etc/prometheus/outguard.rules.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
}

// make man renders every page.
func TestManPages(t *testing.T) {
	out, err := exec.Command("make", "-C", "../..", "man").CombinedOutput()
	if err != nil {
		t.Fatalf("make man: %v\n%s", err, out)
	}
	for _, p := range []string{"milterd.8", "milterctl.8", "milterd.yaml.5", "relayprobe.8"} {
		b, err := os.ReadFile("../../bin/man/" + p)
		if err != nil || !bytes.Contains(b, []byte(".TH ")) || !bytes.Contains(b, []byte("SEE ALSO")) {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// /readyz of the running daemon, on its own listener: ready while clamd and
// the limits store answer, 503 naming each one that does not.
func TestReadyz(t *testing.T) {
	cd := harness.StartClamd(t, "30M")
	rd := harness.StartRedis(t)
	dir := harness.Dir(t, "ready")
	cfg := filepath.Join(dir, "milterd.yaml")
	log := &harness.LogBuffer{}
	cmd, port := harness.StartMilterdOwning(t, binary, func(port int) string {
		os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s/m.sock\nsocket_group: \"\"\nstate_dir: %s\nclamd: {addresses: [unix:%s]}\nlimits: {store: redis, redis: {address: %q}}\nquarantine: {}\nmetrics: {listen: \"127.0.0.1:%d\"}\n",
			dir, dir, cd.Socket, rd.Addr, port)), 0o644)
		return cfg
	}, "unix:"+dir+"/m.sock", log)
	get := func(path string) (int, string) { return metricsGet(t, port, path) }
	if code, body := get("/readyz"); code != 200 || body != "ready: clamd, limits store, quarantine, spool\n" {
		t.Errorf("all up: %d %q", code, body)
	}
	// What operators alert on, read from the stores at the scrape.
	_, m := get("/metrics")
	for _, series := range []string{`outguard_clamd_info{version="ClamAV `, "outguard_quarantine_entries 0", "outguard_quarantine_max_bytes 1.073741824e+10", "outguard_suspended_accounts 0", `outguard_up{component="clamd"} 1`} {
		if !strings.Contains(m, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	cd.Kill()
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "\nclamd: ") || strings.Contains(body, "limits store:") {
		t.Errorf("clamd down: %d %q", code, body)
	}
	if _, m := get("/metrics"); !strings.Contains(m, `outguard_up{component="clamd"} 0`) {
		t.Errorf("outguard_up does not show clamd down")
	}
	rd.Pause()
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "\nclamd: ") || !strings.Contains(body, "\nlimits store: ") {
		t.Errorf("clamd and the store down: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("liveness: %d", code)
	}
	// A SIGHUP reload that fails is counted, for the alert rule.
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(good, "bogus: 1\n"...), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	for i := 0; i < 200 && !strings.Contains(log.String(), "reload failed"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if _, body := get("/metrics"); !strings.Contains(body, `outguard_config_reloads_total{result="failed"} 1`) {
		t.Errorf("the failed reload is not counted:\n%s", log.String())
	}
}

// A reload that changes what only a restart can (the listener, the stores
// opened at start) is refused as a whole, saying so; before, a switch of
// the quarantine to PostgreSQL was reported as reloaded and ignored.
func TestReloadRefusesRestartOnlyChanges(t *testing.T) {
	d, _ := hostile(t, "quarantine: {dir: "+t.TempDir()+"}\n", "")
	running, _ := os.ReadFile(d.config)
	base := strings.Replace(string(running), "X-First", "X-Second", 1)
	for _, tc := range []struct{ name, config, key string }{
		{"quarantine to postgres", strings.Replace(base, "quarantine: {", "quarantine: {store: postgres, ", 1) + "postgres: {dsn: \"host=/nonexistent\"}\n", "quarantine.store"},
		{"listen", strings.Replace(base, d.socket, d.socket+".new", 1), "listen"},
	} {
		os.WriteFile(d.config, []byte(tc.config), 0o644)
		before := strings.Count(d.log.String(), "reload failed")
		d.signal(t, syscall.SIGHUP)
		for i := 0; i < 500 && strings.Count(d.log.String(), "reload failed") == before; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		lines := grepLines(d.log.String(), "reload failed")
		if strings.Count(lines, "\n") != before || !strings.Contains(lines, tc.key) || !strings.Contains(lines, "restart") {
			t.Errorf("%s: reload not refused naming %s and the restart:\n%s", tc.name, tc.key, tail(d.log.String()))
		}
		// Nothing of it applied: the header change in the same file neither.
		if h := send(t, d.socket); h != "X-First" {
			t.Errorf("%s: after the refused reload the stamp is %q", tc.name, h)
		}
	}
	if strings.Contains(d.log.String(), "config reloaded") {
		t.Errorf("a refused reload was reported applied:\n%s", tail(d.log.String()))
	}
}

// A SIGHUP sent the moment "milterd started" is written reloads milterd:
// whoever waits for that line (a test, a unit's ExecStartPost) may signal
// at once, and a signal not yet caught kills the process (CI failure of
// TestSpoolDirChecked). The line is read straight from the pipe, and the
// race is run many times.
func TestSIGHUPRightAfterStarted(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "milterd.yaml")
	os.WriteFile(cfg, []byte(configText(filepath.Join(dir, "m.sock"), "X-First")+"socket_group: \"\"\n"), 0o644)
	for i := range 20 {
		cmd := exec.Command(binary, "-config", cfg)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		var lines []string
		reloaded := false
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "milterd started") {
				cmd.Process.Signal(syscall.SIGHUP)
			}
			if strings.Contains(sc.Text(), "config reloaded") {
				reloaded = true
				cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		err = cmd.Wait()
		if !reloaded || err != nil {
			t.Fatalf("start %d: SIGHUP right after the start line: reloaded=%v exit=%v\n%s", i, reloaded, err, strings.Join(lines, "\n"))
		}
	}
}
