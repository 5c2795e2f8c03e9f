package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// Redis is a running redis-server on a free loopback port.
type Redis struct {
	Addr string
	cmd  *exec.Cmd
}

// Pause stops the server (SIGSTOP): clients time out, as with a server
// that hangs or a network that drops packets.
func (r *Redis) Pause() { Pause(r.cmd) }

// Resume lets a paused server go on.
func (r *Redis) Resume() { Resume(r.cmd) }

// StartRedis starts redis-server without persistence and stops it by PID
// at cleanup.
func StartRedis(t T) *Redis {
	t.Helper()
	Require(t, "redis-server")
	dir := Dir(t, "redis")
	r := &Redis{}
	log := filepath.Join(dir, "redis.log")
	port := onFreePort(t, "redis-server", func(port int) daemon {
		r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", log)
		return startDaemon(t, r.cmd, log)
	})
	t.Cleanup(r.Resume) // a paused server does not stop on SIGTERM
	r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	return r
}
