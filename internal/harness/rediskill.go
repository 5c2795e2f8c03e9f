package harness

import (
	"os/exec"
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
// starts it again.
func (r *Redis) Kill() {
	syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
}

// Restart starts the server again after Kill, with the same arguments
// (port, directory: it loads what it persisted), and waits until its
// port opens; a client's first commands may still get LOADING.
func (r *Redis) Restart() {
	r.t.Helper()
	r.cmd = exec.Command(r.cmd.Path, r.cmd.Args[1:]...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.done = Start(r.t, r.cmd)
	if err := waitPort(r.Addr, 30*time.Second); err != nil {
		r.t.Fatalf("redis-server did not start again: %v", err)
	}
}
