package harness

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Review rport's reproductions of b745b68's port handling, as tests of
// the mended one.

// boundElsewhere is a port another process holds bound, not listening,
// without socket options (a client's, or an older reservation): a daemon
// given it cannot bind.
func boundElsewhere(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	sa, _ := syscall.Getsockname(fd)
	return sa.(*syscall.SockaddrInet4).Port
}

// A starter handed a port another process holds bound but not listening
// moves off it: the daemon exits with EADDRINUSE, nothing listens there,
// and before, onFreePort failed the test ("exited at start"). Sendmail
// retries its bind for 50 s before it exits: left out for time.
func TestReviewStartersMoveOffABoundPort(t *testing.T) {
	starters := map[string]func(t *testing.T) int{
		"redis": func(t *testing.T) int { return (&Redis{Addr: StartRedis(t).Addr}).port() },
		"unbound": func(t *testing.T) int {
			_, p, _ := net.SplitHostPort(StartUnbound(t, UnboundConfig{}).Addr)
			n, _ := strconv.Atoi(p)
			return n
		},
		"postgres":  func(t *testing.T) int { return StartPostgres(t).Port },
		"postfix":   func(t *testing.T) int { return StartPostfix(t, MTAConfig{RelayPort: 1}).Port },
		"smtp-sink": func(t *testing.T) int { return StartRefusingSink(t, ".") },
	}
	for _, name := range []string{"redis", "unbound", "postgres", "postfix", "smtp-sink"} {
		t.Run(name, func(t *testing.T) {
			port := boundElsewhere(t)
			handOnce(t, port)
			if got := starters[name](t); got == port {
				t.Fatalf("%s kept the port another process holds", name)
			}
		})
	}
}

// Unbound listens on UDP too: given a port whose UDP side another process
// holds (a resolver's query socket), it exits with EADDRINUSE and no TCP
// listener is seen; before, StartUnbound failed instead of moving off.
func TestReviewUnboundMovesOffAPortWhoseUDPIsTaken(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	handOnce(t, port)
	u := StartUnbound(t, UnboundConfig{Zones: map[string][]string{"test.": {"a.test. A 127.0.0.2"}}})
	if u.Addr == "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("unbound kept %s, whose UDP another process holds", u.Addr)
	}
}

// While redis is down (Kill) no pick returns its port, which another
// test's daemon would then answer on (before: Restart waited only until
// the port answered, and redis's clients talked to another test's
// smtp-sink); Restart's server listens there again.
func TestReviewRedisPortHeldWhileDown(t *testing.T) {
	r := StartRedis(t)
	port := r.port()
	r.Kill()
	for i := 0; i < 20000; i++ {
		if p, release := reserve(t, 0); p == port {
			t.Fatalf("a pick returned the port %d of the killed redis", port)
		} else {
			release()
		}
	}
	r.Restart()
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("PING\r\n"))
	if line, _ := bufio.NewReader(c).ReadString('\n'); line != "+PONG\r\n" {
		t.Fatalf("after Restart %s answers PING with %q", r.Addr, line)
	}
}

// fatalT records a starter's Fatalf and ends its goroutine, as
// testing.T's does, so that a test can check a starter fails.
type fatalT struct {
	*testing.T
	mu  sync.Mutex
	msg string
}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// fails runs start with a fatalT and returns its Fatalf message ("": none).
func fails(t *testing.T, start func(T)) string {
	f := &fatalT{T: t}
	done := make(chan struct{})
	go func() { defer close(done); start(f) }()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

// A fixed address another process listens on with SO_REUSEPORT (another
// test run's relay lab) fails the start loudly; before, Postfix and
// smtp-sink bound beside it and the kernel spread the test's
// connections between the two.
func TestReviewFixedAddressTakenFailsLoudly(t *testing.T) {
	for _, c := range []struct {
		name  string
		start func(T, string)
	}{
		{"postfix", func(t T, addr string) { StartPostfix(t, MTAConfig{Listen: addr}) }},
		{"smtp-sink", func(t T, addr string) { StartSMTPSink(t, addr) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			other := shareFirstPort(t) // listens with SO_REUSEPORT, answers "interloper"
			addr := "127.0.0.1:" + strconv.Itoa(other)
			msg := fails(t, func(ft T) { c.start(ft, addr) })
			if !strings.Contains(msg, "is taken (another test run on this machine?)") {
				t.Fatalf("%s on %s, which another process listens on: failed with %q", c.name, addr, msg)
			}
			if n := len(listeners(other)); n != 1 {
				t.Fatalf("%d listeners on %s, want the other process's alone", n, addr)
			}
		})
	}
}

// onFreePort's bound: a starter whose every pick is taken gives up after
// five ports, with the reason, instead of trying for ever.
func TestStarterGivesUpAfterFiveTakenPorts(t *testing.T) {
	taken := boundElsewhere(t)
	tries := 0
	old := freePort
	freePort = func(T) (int, func()) { tries++; return taken, func() {} }
	t.Cleanup(func() { freePort = old })
	msg := fails(t, func(ft T) { StartRedis(ft) })
	if tries != 5 || !strings.Contains(msg, "redis-server: 5 ports were taken before it could bind them") {
		t.Fatalf("%d ports tried, failed with %q; want 5 and the reason", tries, msg)
	}
}

// The other bound: a daemon that never listens fails the start at its
// deadline, with the reason, and is stopped at cleanup.
func TestStarterGivesUpOnADaemonThatNeverListens(t *testing.T) {
	start := time.Now()
	msg := fails(t, func(ft T) {
		OwnPort(ft, "sleeper", time.Second, func(int) *exec.Cmd { return exec.Command("sleep", "60") }, func() string { return "(silent)" })
	})
	if !strings.Contains(msg, "sleeper did not listen on 127.0.0.1:") || !strings.Contains(msg, "within 1s") {
		t.Fatalf("a daemon that never listens: failed with %q", msg)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("gave up after %v, want about its 1s deadline", took)
	}
}
