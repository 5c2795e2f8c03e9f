package harness

import (
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// StartRedisPersistent starts redis-server with an append-only file in
// its directory, fsynced as fsync says ("always": before each reply;
// "everysec"; "no"), stopped by PID at cleanup.
func StartRedisPersistent(t T, fsync string) *Redis {
	t.Helper()
	return startRedis(t, "redis-aof", func(string) []string {
		return []string{"--appendonly", "yes", "--appendfsync", fsync}
	})
}

// Kill ends the server with SIGKILL, as a crash would (nothing written
// beyond what its appendfsync already wrote), and waits for it; Restart
// starts it again. Its port stays reserved meanwhile (reserve): the
// clients still know the address, and another test's daemon given the
// port would answer them.
func (r *Redis) Kill() {
	r.t.Helper()
	syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
	_, r.hold = reserve(r.t, r.port())
	r.t.Cleanup(r.hold)
}

// Restart starts the server again after Kill, with the same arguments
// (port, directory: it loads what it persisted), and waits until it
// listens on its port; a client's first commands may still get LOADING.
func (r *Redis) Restart() {
	r.t.Helper()
	r.cmd = exec.Command(r.cmd.Path, r.cmd.Args[1:]...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d := startDaemon(r.t, r.cmd, "")
	r.done = d.done
	d.within = 30 * time.Second
	relisten(r.t, "redis-server", r.port(), d, r.hold)
}

// port is the port of r.Addr.
func (r *Redis) port() int {
	_, p, _ := net.SplitHostPort(r.Addr)
	n, _ := strconv.Atoi(p)
	return n
}
