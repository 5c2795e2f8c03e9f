package harness

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// Clamd is a running clamd with outguard's test signatures.
type Clamd struct {
	Socket string
	Log    string
	cmd    *exec.Cmd
	done   <-chan struct{}
}

// SignatureDir is testdata/clamav: EICAR and the clamav-testfiles sample.
func SignatureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../testdata/clamav")
}

// StartClamd starts clamd in the foreground on a unix socket of its own,
// offline, with testdata/clamav as its database. streamMax is clamd's
// StreamMaxLength, e.g. "30M".
func StartClamd(t T, streamMax string) *Clamd {
	t.Helper()
	Require(t, "clamd")
	dir := Dir(t, "clamd")
	c := &Clamd{Socket: filepath.Join(dir, "clamd.sock"), Log: filepath.Join(dir, "clamd.log")}
	conf := fmt.Sprintf(`LocalSocket %s
Foreground yes
DatabaseDirectory %s
LogFile %s
LogVerbose yes
PidFile %s/clamd.pid
TemporaryDirectory %s
StreamMaxLength %s
MaxThreads 4
ScanMail yes
ScanArchive yes
SelfCheck 0
`, c.Socket, SignatureDir(), c.Log, dir, dir, streamMax)
	cfg := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatalf("%v", err)
	}
	c.cmd = exec.Command("clamd", "--config-file="+cfg)
	c.done = Start(t, c.cmd)
	t.Cleanup(func() { Resume(c.cmd) }) // a paused clamd does not stop on SIGTERM
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The socket file appears at bind(), before listen(): only a
		// connection says clamd is ready.
		if conn, err := net.Dial("unix", c.Socket); err == nil {
			conn.Close()
			return c
		}
		select {
		case <-c.done:
			log, _ := os.ReadFile(c.Log)
			t.Fatalf("clamd exited at start:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clamd did not listen on %s", c.Socket)
		}
	}
}

// Pause makes clamd hang: connections are accepted, nothing is answered.
func (c *Clamd) Pause() { Pause(c.cmd) }

// PID is clamd's process, for its CPU time.
func (c *Clamd) PID() int { return c.cmd.Process.Pid }

// Kill ends clamd at once, as a crash would.
func (c *Clamd) Kill() {
	c.cmd.Process.Kill()
	<-c.done
}

// EICAR is the anti-virus test string; every clamd detects it.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// SilentClamd is a unix socket that accepts connections, reads and never
// answers, like a hung clamd: a misbehaviour no real clamd gives on demand.
func SilentClamd(t T) string {
	t.Helper()
	path := filepath.Join(Dir(t, "silent"), "clamd.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	return path
}
