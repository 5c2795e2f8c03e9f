package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// takeFirstPort makes the next port a starter tries one that another
// listener already holds, as when a parallel test's daemon binds the port
// FreePort picked before ours does; it returns that port.
func takeFirstPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
	handed := false
	freePort = func(t T) int {
		if !handed {
			handed = true
			return taken
		}
		return FreePort(t)
	}
	t.Cleanup(func() { freePort = FreePort })
	return taken
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
