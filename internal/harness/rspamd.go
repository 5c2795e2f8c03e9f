package harness

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Rspamd is a running rspamd (Debian's package, its stock rules) with its
// normal worker on a free loopback port.
type Rspamd struct {
	URL string // http://127.0.0.1:PORT, the normal worker
	Log string
	cmd *exec.Cmd
}

// StartRspamd starts rspamd in the foreground from a directory of its own:
// Debian's /etc/rspamd with DBDIR, RUNDIR, LOGDIR and LOCAL_CONFDIR in the
// test's directory, the normal and controller workers on free loopback
// ports, no proxy, and DNS pointed at a closed loopback port so that no
// rule reaches outside the machine. It is stopped by PID (its process
// group: the workers too) at cleanup. rspamd takes about 20 s to be
// ready: start one per test and share it. local adds files to
// LOCAL_CONFDIR (e.g. "local.d/actions.conf": thresholds).
func StartRspamd(t T, local map[string]string) *Rspamd {
	t.Helper()
	Require(t, "rspamd")
	dir := Dir(t, "rspamd")
	normal, controller := FreePort(t), FreePort(t)
	files := map[string]string{
		"local.d/worker-normal.inc":        fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\ncount = 1;\n", normal),
		"override.d/worker-controller.inc": fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\ncount = 1;\n", controller),
		"override.d/worker-proxy.inc":      "count = 0;\n",
		"local.d/options.inc":              "dns { nameserver = [\"127.0.0.1:1\"]; timeout = 0.2s; retransmits = 1; }\n",
		"local.d/logging.inc":              "level = \"info\";\n",
	}
	for name, text := range local {
		files[name] = text
	}
	for _, sub := range []string{"local.d", "override.d", "db", "run", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatalf("%v", err)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatalf("%v", err)
		}
	}
	r := &Rspamd{URL: fmt.Sprintf("http://127.0.0.1:%d", normal), Log: filepath.Join(dir, "log", "rspamd.log")}
	// -i: the workers run as root, as the test does; nothing here is a
	// production setup.
	r.cmd = exec.Command("rspamd", "-f", "-i", "-c", "/etc/rspamd/rspamd.conf",
		"--var", "DBDIR="+filepath.Join(dir, "db"), "--var", "RUNDIR="+filepath.Join(dir, "run"),
		"--var", "LOGDIR="+filepath.Join(dir, "log"), "--var", "LOCAL_CONFDIR="+dir)
	r.cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer out.Close()
	r.cmd.Stdout, r.cmd.Stderr = out, out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := Start(t, r.cmd)
	t.Cleanup(func() { syscall.Kill(-r.cmd.Process.Pid, syscall.SIGCONT) }) // a paused rspamd does not stop on SIGTERM
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := client.Get(r.URL + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-done:
			text, _ := os.ReadFile(filepath.Join(dir, "stdout"))
			log, _ := os.ReadFile(r.Log)
			t.Fatalf("rspamd exited at start:\n%s\n%s", text, log)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(r.Log)
			t.Fatalf("rspamd did not answer on %s within 90 s:\n%s", r.URL, log)
		}
	}
}

// PID is rspamd's main process, the leader of its process group (the
// workers are in it too).
func (r *Rspamd) PID() int { return r.cmd.Process.Pid }

// Pause makes rspamd hang (SIGSTOP to its workers and main process):
// connections are accepted, nothing is answered.
func (r *Rspamd) Pause() { syscall.Kill(-r.cmd.Process.Pid, syscall.SIGSTOP) }

// Resume lets a paused rspamd go on.
func (r *Rspamd) Resume() { syscall.Kill(-r.cmd.Process.Pid, syscall.SIGCONT) }
