package harness

import (
	"cmp"
	"fmt"
	"net"
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
var freePort = func(t T) (int, func()) { return reserve(t, 0) }

// reserve holds port (0: one the kernel picks) on 127.0.0.1 with a socket
// bound there but not listening, with SO_REUSEADDR and SO_REUSEPORT set,
// until release. While it is held the port refuses connections and no
// pick returns it (the kernel hands out no bound port: FreePort, another
// reserve), yet a daemon told to listen there can: SO_REUSEADDR lets one
// that sets it too (redis, PostgreSQL, unbound, sendmail, rspamd, Go's
// net.Listen) bind beside a socket that does not listen, SO_REUSEPORT one
// running as root that sets it (Postfix and smtp-sink, in
// libpostfix-util's inet_listen). So a port is held from its pick until
// the daemon listens. A port picked, freed and bound later was handed to
// two tests' Postfix, which both bound it, and the kernel spread one
// test's connections between them (CI: TestMilterDownPostfixTempfails
// got 250 from the other test's Postfix).
func reserve(t T, port int) (int, func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("reserve a port: %v", err)
	}
	for _, opt := range []int{syscall.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, opt, 1); err != nil {
			syscall.Close(fd)
			t.Fatalf("reserve a port: setsockopt %d: %v", opt, err)
		}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatalf("reserve port %d: %v", port, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatalf("reserve a port: %v", err)
	}
	var once sync.Once
	return sa.(*syscall.SockaddrInet4).Port, func() { once.Do(func() { syscall.Close(fd) }) }
}

// DownPort is a port on 127.0.0.1 that refuses connections, as a server
// that is down, and that no other test's daemon is given for the rest of
// the test (reserve); the test may start its own server there later
// (net.Listen binds it). A port listened on and closed was free for any
// pick again: another test's daemon could answer the "down" address.
func DownPort(t T) int {
	t.Helper()
	port, release := reserve(t, 0)
	t.Cleanup(release)
	return port
}

// onFreePort starts a daemon with start on a port picked and reserved
// (reserve) and returns the port once the daemon itself listens on it:
// the listening socket must be one of the daemon's file descriptors, and
// no other process may listen there too; "the port answers" is not
// enough, as it may answer for another. A daemon that cannot have the
// port (another process listens there, or held it when the daemon bound:
// a port unbound's UDP side needs may be taken) is stopped and started
// again on another port.
func onFreePort(t T, name string, start func(port int) daemon) int {
	t.Helper()
	const attempts = 5
	for i := 0; i < attempts; i++ {
		port, release := freePort(t)
		t.Cleanup(release)
		d := start(port)
		if held(t, name, port, d, release) {
			return port
		}
		t.Logf("%s: port %d was taken by another process; trying another", name, port)
	}
	t.Fatalf("%s: %d ports were taken before it could bind them", name, attempts)
	return 0
}

// held waits until daemon d listens on port alone, and then releases the
// reservation (release); false when another process has the port.
func held(t T, name string, port int, d daemon, release func()) bool {
	t.Helper()
	deadline := time.Now().Add(cmp.Or(d.within, time.Minute))
	for {
		inodes := listeners(port)
		pid := d.pid()
		if pid > 0 && holdsAll(pid, inodes) {
			release()
			return true
		}
		select {
		case <-d.done:
			// Its own sockets are closed now, and the reservation is
			// let go: whatever still holds the port is another's.
			release()
			if len(listeners(port)) > 0 || busy(port) {
				return false
			}
			t.Fatalf("%s exited at start (port %d):\n%s", name, port, d.log())
		default:
		}
		if len(inodes) > 0 && pid > 0 {
			// Someone else listens: ours can never bind, or
			// shares the port with it.
			StopPID(pid, 5*time.Second)
			release()
			return false
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on 127.0.0.1:%d within %s:\n%s", name, port, cmp.Or(d.within, time.Minute), d.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// relisten is held for a daemon started again on the port it had
// (Redis.Restart, Postgres.Start after a stop), which hold reserved while
// it was down: it fails the test when another process has the port.
func relisten(t T, name string, port int, d daemon, hold func()) {
	t.Helper()
	if hold == nil { // never stopped by the harness: nothing reserved
		hold = func() {}
	}
	if !held(t, name, port, d, hold) {
		t.Fatalf("%s: port %d was taken by another process while it was down", name, port)
	}
}

// ownAddress takes fixed address addr, which a daemon is about to listen
// on, for the rest of the test, and fails the test when another test
// (in any process: two test runs at once on one machine, each starting
// the relay lab) has it, or something else listens there: a daemon that
// sets SO_REUSEPORT (Postfix, smtp-sink) would bind beside it and a
// test's connections be spread between the two, and one that does not
// would fail while the address answers for the other. The claim is an
// abstract unix socket named after the address: one per machine, gone
// with its process however it ends.
func ownAddress(t T, addr string) {
	t.Helper()
	claim, err := net.Listen("unix", "@outguard-test-address "+addr)
	if err != nil {
		t.Fatalf("%s is taken by another test (another test run on this machine?): %v", addr, err)
	}
	t.Cleanup(func() { claim.Close() })
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s is taken (another test run on this machine?): %v", addr, err)
	}
	l.Close()
}

// busy reports whether another socket holds port on 127.0.0.1, TCP or
// UDP, so that a daemon's bind fails: a listener, or a socket bound
// without listening (another test's reservation, a client's).
func busy(port int) bool {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return true
	}
	u.Close()
	return false
}

// listeners are the inodes of the TCP sockets listening on port that
// take connections to 127.0.0.1:port: on that address or on any (IPv4's
// 0.0.0.0, IPv6's :: and ::ffff:127.0.0.1), from /proc/net/tcp{,6}. One
// on 127.0.0.2:port or [::1]:port takes nothing from it (a pick there may
// return a port reserved here).
func listeners(port int) map[string]bool {
	inodes := map[string]bool{}
	p := fmt.Sprintf(":%04X", port)
	ours := map[string]bool{"0100007F" + p: true, "00000000" + p: true,
		"00000000000000000000000000000000" + p: true, "0000000000000000FFFF00000100007F" + p: true}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(line)
			if len(fields) >= 10 && ours[fields[1]] && fields[3] == "0A" {
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
	port := onFreePort(t, name, func(port int) daemon {
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
