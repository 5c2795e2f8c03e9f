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
// test's directory, the normal worker on a loopback port rspamd itself
// holds (OwnPort: tried again on another when another process took it),
// no controller (nothing here uses it: a second port to race for) and no
// proxy, and DNS pointed at a closed loopback port so that no
// rule reaches outside the machine. It is stopped by PID (its process
// group: the workers too) at cleanup. rspamd takes about 20 s to be
// ready (minutes on a loaded machine): start one per test and share it. local adds files to
// LOCAL_CONFDIR (e.g. "local.d/actions.conf": thresholds).
func StartRspamd(t T, local map[string]string) *Rspamd {
	t.Helper()
	Require(t, "rspamd")
	dir := Dir(t, "rspamd")
	r := &Rspamd{Log: filepath.Join(dir, "log", "rspamd.log")}
	for _, sub := range []string{"local.d", "override.d", "db", "run", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatalf("%v", err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer out.Close()
	port, cmd, done := OwnPort(t, "rspamd", 3*time.Minute, func(port int) *exec.Cmd {
		files := map[string]string{
			"local.d/worker-normal.inc":        fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\ncount = 1;\n", port),
			"override.d/worker-controller.inc": "count = 0;\n",
			"override.d/worker-proxy.inc":      "count = 0;\n",
			"local.d/options.inc":              "dns { nameserver = [\"127.0.0.1:1\"]; timeout = 0.2s; retransmits = 1; }\n",
			"local.d/logging.inc":              "level = \"info\";\n",
		}
		for name, text := range local {
			files[name] = text
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatalf("%v", err)
			}
		}
		// -i: the workers run as root, as the test does; nothing here is a
		// production setup.
		cmd := exec.Command("rspamd", "-f", "-i", "-c", "/etc/rspamd/rspamd.conf",
			"--var", "DBDIR="+filepath.Join(dir, "db"), "--var", "RUNDIR="+filepath.Join(dir, "run"),
			"--var", "LOGDIR="+filepath.Join(dir, "log"), "--var", "LOCAL_CONFDIR="+dir)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd
	}, readLog(r.Log))
	r.URL, r.cmd = fmt.Sprintf("http://127.0.0.1:%d", port), cmd
	t.Cleanup(func() { syscall.Kill(-r.cmd.Process.Pid, syscall.SIGCONT) }) // a paused rspamd does not stop on SIGTERM
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(90 * time.Second) // from its listening: the workers' start
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
