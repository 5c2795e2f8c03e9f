package harness

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// takeFirstPort makes the next port a starter tries one that another
// listener already holds, as when a parallel test's daemon binds the port
// FreePort picked before ours does; it returns that port.
func takeFirstPort(t *testing.T) int {
	t.Helper()
	return handFirstPort(t, false)
}

// shareFirstPort is takeFirstPort with a listener that sets SO_REUSEPORT,
// as another test's Postfix does: a starter's Postfix binds the port
// alongside it, and the kernel spreads the connections between the two.
func shareFirstPort(t *testing.T) int {
	t.Helper()
	return handFirstPort(t, true)
}

func handFirstPort(t *testing.T, reuseport bool) int {
	t.Helper()
	lc := net.ListenConfig{}
	if reuseport {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
			return cmp.Or(err, serr)
		}
	}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { // the interloper accepts and answers like no daemon here
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("interloper\r\n"))
			c.Close()
		}
	}()
	taken := l.Addr().(*net.TCPAddr).Port
	handOnce(t, taken)
	return taken
}

// handOnce makes the next port a starter tries port, whoever holds it.
func handOnce(t *testing.T, port int) {
	handed := false
	old := freePort
	freePort = func(t T) (int, func()) {
		if !handed {
			handed = true
			return port, func() {}
		}
		return reserve(t, 0)
	}
	t.Cleanup(func() { freePort = old })
}

// greetings are the first lines of n connections to addr: with two
// listeners on one port the kernel spreads them between the two.
func greetings(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		seen[strings.SplitN(firstLine(t, addr), " ", 2)[0]]++
	}
	return seen
}

func TestSharingStartersMoveOffASharedPort(t *testing.T) {
	t.Run("postfix", func(t *testing.T) {
		taken := shareFirstPort(t)
		p := StartPostfix(t, MTAConfig{RelayPort: 1})
		if seen := greetings(t, p.Addr(), 32); p.Port == taken || seen["220"] != 32 {
			t.Fatalf("StartPostfix listens on %s (shared port %d), whose 32 connections are greeted %v", p.Addr(), taken, seen)
		}
	})
	t.Run("smtp-sink", func(t *testing.T) {
		taken := shareFirstPort(t)
		port := StartRefusingSink(t, ".")
		if seen := greetings(t, "127.0.0.1:"+strconv.Itoa(port), 32); port == taken || seen["220"] != 32 {
			t.Fatalf("StartRefusingSink listens on %d (shared port %d), whose 32 connections are greeted %v", port, taken, seen)
		}
	})
}

// TestTwoPostfixesNeverShareAPort is the race CI lost: two tests' Postfix
// given the same just-freed port both bound it (SO_REUSEPORT), and one
// test's client reached the other test's Postfix and milter.
func TestTwoPostfixesNeverShareAPort(t *testing.T) {
	first := StartPostfix(t, MTAConfig{RelayPort: 1})
	handOnce(t, first.Port)
	second := StartPostfix(t, MTAConfig{RelayPort: 1})
	if second.Port == first.Port {
		t.Fatalf("both Postfix instances listen on %d", first.Port)
	}
	if n := len(listeners(first.Port)); n != 1 {
		t.Fatalf("%d listening sockets on the first Postfix's port %d, want its own only", n, first.Port)
	}
}

func TestDownPortIsNobodysElse(t *testing.T) {
	port := DownPort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("the down port %s accepted a connection", addr)
	}
	for i := 0; i < 20000; i++ { // the kernel's picks skip it
		if p := FreePort(t); p == port {
			t.Fatalf("FreePort handed out the down port %d", port)
		}
	}
	// A daemon binding it without SO_REUSEADDR cannot.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err == nil {
		t.Fatalf("a plain bind took the down port %d", port)
	}
	// The test's own server there later (net.Listen: SO_REUSEADDR).
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the test cannot serve on its down port: %v", err)
	}
	l.Close()
}

// firstLine is what a server says first on addr.
func firstLine(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line
}

func TestStartersMoveOffATakenPort(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		taken := takeFirstPort(t)
		r := StartRedis(t)
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("PING\r\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		if r.Addr == "127.0.0.1:"+strconv.Itoa(taken) || line != "+PONG\r\n" {
			t.Fatalf("StartRedis returned %s (taken port %d), which answers PING with %q", r.Addr, taken, line)
		}
	})
	t.Run("smtp-sink", func(t *testing.T) {
		taken := takeFirstPort(t)
		port := StartRefusingSink(t, ".")
		if line := firstLine(t, "127.0.0.1:"+strconv.Itoa(port)); port == taken || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("StartRefusingSink returned port %d (taken %d), which greets %q", port, taken, line)
		}
	})
	t.Run("postfix", func(t *testing.T) {
		taken := takeFirstPort(t)
		p := StartPostfix(t, MTAConfig{RelayPort: 1})
		if line := firstLine(t, p.Addr()); p.Port == taken || !strings.HasPrefix(line, "220 "+Hostname) {
			t.Fatalf("StartPostfix listens on %s (taken %d), which greets %q", p.Addr(), taken, line)
		}
	})
	t.Run("sendmail", func(t *testing.T) {
		taken := takeFirstPort(t)
		p := StartSendmail(t, MTAConfig{RelayPort: 1, Milter: "inet:127.0.0.1:1"}) // its .cf needs one; it may be down
		if line := firstLine(t, p.Addr()); p.Port == taken || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("StartSendmail listens on %s (taken %d), which greets %q", p.Addr(), taken, line)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		taken := takeFirstPort(t)
		p := StartPostgres(t)
		if p.Port == taken {
			t.Fatalf("StartPostgres kept the taken port %d", taken)
		}
		p.SQL("postgres", "SELECT 1") // over the unix socket named by the port
	})
	t.Run("unbound", func(t *testing.T) {
		taken := takeFirstPort(t)
		u := StartUnbound(t, UnboundConfig{Zones: map[string][]string{"test.": {"a.test. A 127.0.0.2"}}})
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", u.Addr)
		}}
		addrs, err := r.LookupHost(context.Background(), "a.test")
		if u.Addr == "127.0.0.1:"+strconv.Itoa(taken) || err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.2" {
			t.Fatalf("StartUnbound on %s (taken %d) answers %v %v", u.Addr, taken, addrs, err)
		}
	})
}

func TestDaemonsWeStartMoveOffATakenPort(t *testing.T) {
	t.Run("rspamd", func(t *testing.T) {
		taken := takeFirstPort(t)
		r := StartRspamd(t, nil)
		if r.URL == "http://127.0.0.1:"+strconv.Itoa(taken) {
			t.Fatalf("StartRspamd kept the taken port %d", taken)
		}
		resp, err := http.Get(r.URL + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "pong") {
			t.Fatalf("%s/ping: %q", r.URL, body)
		}
	})
	t.Run("milterd", func(t *testing.T) {
		dir := Dir(t, "ownport")
		bin := Build(t, dir, "milterd")
		taken := takeFirstPort(t)
		log := &LogBuffer{}
		sock := filepath.Join(dir, "m.sock")
		_, port := StartMilterdOwning(t, bin, func(port int) string {
			cfg := filepath.Join(dir, "milterd.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("listen: unix:%s\nsocket_group: \"\"\nstate_dir: %s\nmetrics: {listen: \"127.0.0.1:%d\"}\n", sock, dir, port)), 0o644)
			return cfg
		}, "unix:"+sock, log)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if port == taken || !strings.Contains(string(body), "outguard_") {
			t.Fatalf("StartMilterdOwning: metrics on port %d (taken %d) say %.200q\n%s", port, taken, body, log)
		}
	})
}
