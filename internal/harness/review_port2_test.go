package harness

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Review rport2's reproductions of fc75cf9's port handling, as tests of
// the mended one (ownAddress's claim, listeners on 127.0.0.1 and any
// address only, handOnce restoring, a stopped resolver's port held).

// listenersOn counts the listening TCP sockets on host:port exactly
// (/proc/net/tcp, IPv4).
func listenersOn(t *testing.T, addr string) int {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host).To4()
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p)
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == want && f[3] == "0A" {
			n++
		}
	}
	return n
}

// Claim 4. Two test runs on one machine start the relay lab's Postfix (or
// an smtp-sink) on the same fixed address at about the same time.
// ownAddress checks the address with a listen-and-close and then starts
// the daemon: both runs pass the check before either daemon has bound,
// both daemons bind (SO_REUSEPORT, root), and neither start fails; the
// kernel then spreads each run's connections over the two. The check is a
// moment before the bind, not the bind; waitPort ("it answers") is
// answered by either.
func TestReviewFixedAddressTwoRunsAtOnceBothBind(t *testing.T) {
	for _, c := range []struct {
		name    string
		addr    string
		start   func(T, string)
		stagger time.Duration // the second run starts that much later
	}{
		{"postfix", "127.0.77.9:2526", func(t T, addr string) { StartPostfix(t, MTAConfig{RelayPort: 1, Listen: addr}) }, 0},
		// "postfix start" takes a while: the window is wide.
		{"postfix 300ms apart", "127.0.77.12:2529", func(t T, addr string) { StartPostfix(t, MTAConfig{RelayPort: 1, Listen: addr}) }, 300 * time.Millisecond},
		{"smtp-sink", "127.0.77.10:2527", func(t T, addr string) { StartSMTPSink(t, addr) }, 0},
		// No SO_REUSEPORT: the second cannot bind and exits, and its
		// start succeeds all the same, the other run's proxy answering.
		{"microsocks", "127.0.77.11:2528", func(t T, addr string) { StartMicrosocks(t, addr) }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var wg sync.WaitGroup
			msgs := make([]string, 2)
			gate := make(chan struct{})
			for i := range msgs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					time.Sleep(time.Duration(i) * c.stagger)
					msgs[i] = fails(t, func(ft T) { c.start(ft, c.addr) })
				}()
			}
			close(gate)
			wg.Wait()
			// A start returns once the address answers, which the other
			// run's daemon may do before its own listens: look a while.
			n := 0
			for deadline := time.Now().Add(2 * time.Second); n < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				n = listenersOn(t, c.addr)
			}
			if msgs[0] == "" && msgs[1] == "" {
				t.Fatalf("both starts of %s on %s succeeded; %d processes listen there", c.name, c.addr, n)
			}
			if n != 1 {
				t.Fatalf("%d listeners on %s (start failures: %q)", n, c.addr, msgs)
			}
		})
	}
}

// Claims 2/3. Redis is killed; meanwhile another test (another process)
// listens on the port on another loopback address or on [::1], which its
// pick may hand it (TestReviewPicksElsewhereReturnHeldPorts). That
// listener takes nothing from 127.0.0.1:port, yet listeners() counts
// every address and family, so Restart fails the test: "taken by another
// process while it was down". The restarted redis works fine.
func TestReviewRedisRestartFailsForAListenerElsewhere(t *testing.T) {
	for _, host := range []string{"127.0.0.2", "::1"} {
		t.Run(host, func(t *testing.T) {
			r := StartRedis(t)
			port := r.port()
			r.Kill()
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if msg := fails(t, func(ft T) { r.t = ft; r.Restart() }); msg != "" {
				t.Fatalf("Restart with an unrelated listener on [%s]:%d: %s", host, port, msg)
			}
		})
	}
}

// port_test.go's handOnce restores at cleanup the freePort it has just
// set (old is read after the assignment): a port handed and not used in
// one test (one that failed before its starter ran) is handed to the next
// starter of a later test, which then starts on a port held by whatever
// held it, without a reservation.
func TestReviewHandOnceIsNotUndone(t *testing.T) {
	const stale = 1
	orig := freePort
	defer func() { freePort = orig }() // not to hand port 1 to the package's later tests
	t.Run("hands, never starts", func(t *testing.T) { handOnce(t, stale) })
	port, release := freePort(t)
	release()
	if port == stale {
		t.Fatalf("after the test that called handOnce ended, freePort still handed its port %d", port)
	}
}

// A stopped resolver is a test's down address (complaint/auth_test.go,
// e2e/relayprobe_listings_test.go): its port stays held, no pick returns
// it, so no other test's resolver answers there (before: Stop held
// nothing, and another test's unbound given the port answered the "gone"
// resolver's queries).
func TestReviewStoppedUnboundPortHeld(t *testing.T) {
	u := StartUnbound(t, UnboundConfig{Zones: map[string][]string{"down.test.": {"a.down.test. A 127.0.0.2"}}})
	_, p, _ := net.SplitHostPort(u.Addr)
	port, _ := strconv.Atoi(p)
	u.Stop()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	syscall.Close(fd)
	if err == nil {
		t.Fatalf("the stopped resolver's port %d is free", port)
	}
	for i := 0; i < 20000; i++ {
		if q, release := reserve(t, 0); q == port {
			t.Fatalf("a pick returned the stopped resolver's port %d", port)
		} else {
			release()
		}
	}
}
