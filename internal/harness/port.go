package harness

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// daemon is what a starter tells onFreePort of a daemon it started.
type daemon struct {
	pid  func() int      // the process that binds the port; 0 while not known
	done <-chan struct{} // closed when it has exited; nil if it is not watched
	log  func() string   // its log, for the failure message
	// within is how long it may take to listen (0: a minute).
	within time.Duration
}

// freePort picks and reserves the port onFreePort tries; a variable so
// that a test can hand out a port another process holds, as the race does.
var freePort = reservePort

// reservePort picks a free port on 127.0.0.1 and holds it with a socket
// bound there but not listening, with SO_REUSEPORT set, until release.
// While it is held no other pick (FreePort, reservePort: the kernel never
// hands out a bound port) returns it, and it refuses connections; a daemon
// running as root that sets SO_REUSEPORT itself (Postfix and smtp-sink
// do, in libpostfix-util's inet_listen) can still bind it. Without the
// reservation two such daemons given the same just-freed port both bind
// it, the kernel spreads the connections between them, and a test talks
// to another test's Postfix.
func reservePort(t T) (port int, release func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		syscall.Close(fd)
		t.Fatalf("reserve a port: SO_REUSEPORT: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatalf("reserve a port: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatalf("reserve a port: %v", err)
	}
	var once sync.Once
	return sa.(*syscall.SockaddrInet4).Port, func() { once.Do(func() { syscall.Close(fd) }) }
}

// ClosedPort is a port on 127.0.0.1 that refuses connections for the rest
// of the test and that no daemon another test starts can take: the
// address of a server that is down.
func ClosedPort(t T) int {
	t.Helper()
	port, release := reservePort(t)
	t.Cleanup(release)
	return port
}

// onFreePort starts a daemon with start on a port FreePort picked and
// returns the port once the daemon itself listens on it. FreePort's port
// was only free a moment ago: another test's daemon (seen with unbound)
// may bind it first, and then ours fails with EADDRINUSE while the port
// answers for the other one. So "the port answers" is not enough: the
// listening socket must be one of the daemon's file descriptors, and no
// other process may listen there too (a daemon that sets SO_REUSEPORT
// binds alongside another); otherwise the daemon is stopped and started
// again on another port. shares says the daemon sets SO_REUSEPORT: the
// port stays reserved (reservePort) until it listens, so that no other
// test's daemon is given it meanwhile; any other daemon could not bind
// the reserved port, and gets it released just before it starts.
func onFreePort(t T, name string, shares bool, start func(port int) daemon) int {
	t.Helper()
	const attempts = 5
	for i := 0; i < attempts; i++ {
		port, release := freePort(t)
		t.Cleanup(release) // a port left for another: held to the end
		if !shares {
			release()
		}
		d := start(port)
		deadline := time.Now().Add(cmp.Or(d.within, time.Minute))
		for {
			inodes := listeners(port)
			pid := d.pid()
			if pid > 0 && holdsAll(pid, inodes) {
				release()
				return port
			}
			exited := false
			select {
			case <-d.done:
				exited = true
			default:
			}
			if len(inodes) > 0 && pid > 0 && !exited {
				// Someone else listens: ours can never bind, or
				// shares the port with it.
				StopPID(pid, 5*time.Second)
				break
			}
			if exited {
				if len(inodes) > 0 {
					break // it lost the race: try another port
				}
				t.Fatalf("%s exited at start (port %d):\n%s", name, port, d.log())
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not listen on 127.0.0.1:%d within %s:\n%s", name, port, cmp.Or(d.within, time.Minute), d.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: port %d was taken by another process; trying another", name, port)
	}
	t.Fatalf("%s: %d ports were taken before it could bind them", name, attempts)
	return 0
}

// listeners are the inodes of the listening TCP sockets on port (IPv4
// and IPv6, any address), from /proc/net/tcp{,6}.
func listeners(port int) map[string]bool {
	inodes := map[string]bool{}
	suffix := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(line)
			if len(fields) >= 10 && strings.HasSuffix(fields[1], suffix) && fields[3] == "0A" {
				inodes[fields[9]] = true
			}
		}
	}
	return inodes
}

// holdsAll reports whether process pid has all the sockets inodes (at
// least one) open.
func holdsAll(pid int, inodes map[string]bool) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	held := map[string]bool{}
	for _, fd := range fds {
		link, _ := os.Readlink(fd)
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			held[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return len(inodes) > 0 && len(held) == len(inodes)
}

// pidFile reads a daemon's PID file; 0 while there is none.
func pidFile(path string) int {
	b, _ := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// startDaemon starts cmd in a process group of its own, stopped by PID at
// cleanup; logFile ("": none) is its log.
func startDaemon(t T, cmd *exec.Cmd, logFile string) daemon {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := Start(t, cmd)
	return daemon{pid: func() int { return cmd.Process.Pid }, done: done, log: readLog(logFile)}
}

// readLog is a daemon's log file for a failure message.
func readLog(path string) func() string {
	return func() string {
		if path == "" {
			return "(it has no log)"
		}
		b, _ := os.ReadFile(path)
		return string(b)
	}
}

// OwnPort is onFreePort for a daemon a test starts itself: cmd makes the
// command for a port (its config naming it), which OwnPort starts (Start:
// stopped by PID at cleanup); it returns the port once that process
// itself listens on it (within that long; 0: a minute), the process, and
// a channel closed when it exits. log is its log, for a failure message.
func OwnPort(t T, name string, within time.Duration, cmd func(port int) *exec.Cmd, log func() string) (int, *exec.Cmd, <-chan struct{}) {
	t.Helper()
	var c *exec.Cmd
	var done <-chan struct{}
	port := onFreePort(t, name, false, func(port int) daemon {
		c = cmd(port)
		done = Start(t, c)
		return daemon{pid: func() int { return c.Process.Pid }, done: done, log: log, within: within}
	})
	return port, c, done
}

// LoggedAddr waits until a daemon that listens on a port it picked
// itself (port 0: no other process can take it between a pick and the
// bind) logs the address: the addr= field of the first slog line of log
// holding msg. done is closed when the daemon has exited.
func LoggedAddr(t T, log func() string, done <-chan struct{}, msg string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, line := range strings.Split(log(), "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			for _, f := range strings.Fields(line) {
				if a, ok := strings.CutPrefix(f, "addr="); ok {
					return a
				}
			}
		}
		select {
		case <-done:
			t.Fatalf("exited before logging %q:\n%s", msg, log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged within a minute:\n%s", msg, log())
		}
	}
}
