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
	t    T
	done <-chan struct{} // closed when cmd exits (Kill)
	hold func()          // releases the port reserved while it is down (Kill)
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
	return startRedis(t, "redis", nil)
}

// startRedis starts redis-server in a directory named name, with the
// further arguments args(dir).
func startRedis(t T, name string, args func(dir string) []string) *Redis {
	t.Helper()
	Require(t, "redis-server")
	dir := Dir(t, name)
	r := &Redis{t: t}
	log := filepath.Join(dir, "redis.log")
	port := onFreePort(t, "redis-server", func(port int) daemon {
		argv := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", log}
		if args != nil {
			argv = append(argv, args(dir)...)
		}
		r.cmd = exec.Command("redis-server", argv...)
		d := startDaemon(t, r.cmd, log)
		r.done = d.done
		return d
	})
	t.Cleanup(r.Resume) // a paused server does not stop on SIGTERM
	r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	return r
}
