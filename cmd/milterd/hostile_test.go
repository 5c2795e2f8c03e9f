package main

// Hostile clients against the real milterd binary (issue #33): whatever a
// client of the socket or of the metrics port does, milterd stays up,
// serves the next well-formed session, and its memory stays bounded.

import (
	"bufio"
	be "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
)

// rssBound is what milterd may reach (VmHWM) through every hostile case
// here: the Go runtime and the engines idle take ~20 MiB.
const rssBound = 64

// hostile is a milterd started with extra config lines and metrics keys,
// optionally under a command that sets its limits (prlimit).
func hostile(t *testing.T, extra, metricsKeys string, wrap ...string) (*proc, int) {
	t.Helper()
	dir := t.TempDir()
	d := &proc{log: &harness.LogBuffer{}, socket: filepath.Join(dir, "m.sock"), config: filepath.Join(dir, "milterd.yaml"), done: make(chan error, 1)}
	port := d.own(t, func(port int) string {
		return configText(d.socket, "X-First") + fmt.Sprintf("metrics: {listen: \"127.0.0.1:%d\"%s}\n", port, metricsKeys) + extra
	}, wrap...)
	return d, port
}

// own is start for a config naming a loopback port (text gives it for
// a port): as harness.OwnPort, the port returned is one milterd itself
// holds, tried again on another when another process took it between
// the pick and the bind (milterd cannot listen on port 0 and say which
// it got). wrap is a command that runs milterd (prlimit).
func (d *proc) own(t *testing.T, text func(port int) string, wrap ...string) int {
	t.Helper()
	port, cmd, exited := harness.OwnPort(t, "milterd", 0, func(port int) *exec.Cmd {
		os.WriteFile(d.config, []byte(text(port)), 0o644)
		command := append(append([]string{}, wrap...), binary, "-config", d.config)
		c := exec.Command(command[0], command[1:]...)
		c.Stderr = d.log
		return c
	}, d.log.String)
	d.cmd = cmd
	go func() {
		<-exited
		var err error
		if !cmd.ProcessState.Success() {
			err = &exec.ExitError{ProcessState: cmd.ProcessState}
		}
		d.done <- err
	}()
	d.waitLog(t, "milterd started")
	return port
}

// alive fails the test when milterd has exited, and checks that it serves
// a whole well-formed message.
func (d *proc) alive(t *testing.T, after string) {
	t.Helper()
	select {
	case err := <-d.done:
		d.done <- err
		t.Fatalf("milterd exited after %s: %v\n%s", after, err, tail(d.log.String()))
	case <-time.After(50 * time.Millisecond):
	}
	if h := send(t, d.socket); h != "X-First" {
		t.Fatalf("after %s the stamp is %q", after, h)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// pkt is a milter packet: length word, command, data.
func pkt(code byte, data ...string) []byte {
	d := strings.Join(data, "")
	b := be.BigEndian.AppendUint32(nil, uint32(len(d)+1))
	return append(append(b, code), d...)
}

// optneg is Postfix's negotiation: protocol 6, every action and protocol
// bit it knows.
var optneg = pkt('O', "\x00\x00\x00\x06", "\x00\x00\x01\xff", "\x00\x1f\xff\xff")

// dial connects to the milter socket; with negotiate, it negotiates as
// Postfix does and reads the answer.
func dial(t *testing.T, socket string, negotiate bool) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if negotiate {
		c.Write(optneg)
		if err := readPacket(c, 5*time.Second); err != nil {
			t.Fatalf("negotiation: %v", err)
		}
	}
	return c
}

func readPacket(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	var n uint32
	if err := be.Read(c, be.BigEndian, &n); err != nil {
		return err
	}
	_, err := io.CopyN(io.Discard, c, int64(n))
	return err
}

// closedWithin waits for milterd to close c: EOF (or a reset) within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("milterd did not close the connection within %v", d)
	}
}

// Every command malformed in every way the grammar allows, and packets of
// any length: each closes its connection and nothing else.
func TestHostileMalformedPackets(t *testing.T) {
	d, port := hostile(t, "", "")
	conn := pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00")
	cases := []struct {
		name       string
		negotiated bool
		send       []byte
	}{
		{"zero-length packet before negotiation", false, []byte{0, 0, 0, 0}},
		{"zero-length packet after negotiation", true, []byte{0, 0, 0, 0}},
		{"CONNECT before negotiation", false, conn},
		{"OPTNEG too short", false, pkt('O', "\x00\x00\x00\x06")},
		{"second OPTNEG", true, optneg},
		{"CONNECT without NUL", true, pkt('C', "hostname")},
		{"CONNECT without family", true, pkt('C', "hostname\x00")},
		{"CONNECT inet without port", true, pkt('C', "h\x00", "4")},
		{"CONNECT inet without address NUL", true, pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1")},
		{"CONNECT unknown family", true, pkt('C', "h\x00", "X")},
		{"HELO empty", true, pkt('H')},
		{"HELO without NUL", true, pkt('H', "name")},
		{"MAIL empty", true, append(conn, pkt('M')...)},
		{"MAIL without NUL", true, append(conn, pkt('M', "<a@example.net>")...)},
		{"RCPT without NUL", true, append(append(conn, pkt('M', "<a@example.net>\x00")...), pkt('R', "<b@example.net>")...)},
		{"RCPT empty", true, append(append(conn, pkt('M', "<a@example.net>\x00")...), pkt('R')...)},
		{"HEADER one string", true, pkt('L', "Subject\x00")},
		{"HEADER without NUL", true, pkt('L', "Subject")},
		{"MACRO empty", true, pkt('D')},
		{"MACRO name without value", true, pkt('D', "C", "j\x00")},
		{"UNKNOWN without NUL", true, pkt('U', "XYZZY")},
		{"EOB with data", true, pkt('E', "data the library would drop")},
		{"unknown command", true, pkt('Z', "x\x00")},
		{"BODY chunk over 64 KiB", true, pkt('B', strings.Repeat("x", 65537))},
		{"packet of 512 MiB", true, be.BigEndian.AppendUint32(nil, 512<<20)},
		{"packet of 4 GiB", false, []byte{0xff, 0xff, 0xff, 0xff}},
	}
	for _, tc := range cases {
		c := dial(t, d.socket, tc.negotiated)
		c.Write(tc.send)
		closedWithin(t, c, 5*time.Second)
		d.alive(t, tc.name)
	}
	// Four body packets announced at 256 MiB each, their data streamed:
	// closed at the length word, before anything is read or reserved.
	for range 4 {
		c := dial(t, d.socket, true)
		c.Write(conn)
		c.Write(be.BigEndian.AppendUint32(nil, 256<<20))
		go c.Write(append([]byte{'B'}, make([]byte, 8<<20)...))
		closedWithin(t, c, 5*time.Second)
	}
	d.alive(t, "four 256 MiB body packets")
	rss := harness.PeakRSS(d.cmd.Process.Pid)
	t.Logf("milterd peak RSS through every malformed packet: %.1f MiB", rss)
	if rss > rssBound {
		t.Errorf("peak RSS %.0f MiB, bound %d MiB", rss, rssBound)
	}
	// The log reaches d.log through a pipe another goroutine copies: wait
	// for the lines rather than read it once.
	d.waitLogCount(t, "malformed milter packet", len(cases)+4)
	if m := metricsText(t, port); !strings.Contains(m, fmt.Sprintf(`outguard_milter_connection_events_total{event="malformed"} %d`, len(cases)+4)) {
		t.Errorf("malformed packets not counted:\n%s", grepLines(m, "connection_events"))
	}
}

func metricsText(t *testing.T, port int) string {
	t.Helper()
	_, body := metricsGet(t, port, "/metrics")
	return body
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A client that says nothing, stops inside a packet, or stays idle after
// the negotiation is closed at read_timeout or idle_timeout.
func TestHostileSlowAndIdle(t *testing.T) {
	d, port := hostile(t, "milter: {read_timeout: 1s, idle_timeout: 2s}\n", "")
	silent := dial(t, d.socket, false)
	half := dial(t, d.socket, true)
	half.Write(pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00")[:7]) // the length word and part of the data
	start := time.Now()
	closedWithin(t, silent, 3*time.Second)
	closedWithin(t, half, 3*time.Second)
	if time.Since(start) > 3*time.Second {
		t.Errorf("read_timeout 1s took %v", time.Since(start))
	}
	// Negotiated, then silent: not closed before idle_timeout (2s), closed
	// after it.
	idle := dial(t, d.socket, true)
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle connection closed before idle_timeout: %v", err)
	}
	closedWithin(t, idle, 3*time.Second)
	d.alive(t, "slow and idle clients")
	m := metricsText(t, port)
	for _, want := range []string{`{event="read_timeout"} 2`, `{event="idle_timeout"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "connection_events"))
		}
	}
}

// Idle connections past max_connections: the ones beyond are closed at
// once (the MTA applies milter_default_action), the ones within are kept,
// and as soon as one ends a new session is served.
func TestHostileConnectionCap(t *testing.T) {
	const max = 20
	d, port := hostile(t, fmt.Sprintf("milter: {max_connections: %d}\n", max), "")
	var held []net.Conn
	for range max {
		held = append(held, dial(t, d.socket, true))
	}
	for range 50 {
		c := dial(t, d.socket, false)
		c.Write(optneg)
		closedWithin(t, c, 5*time.Second)
	}
	// Those within the cap still work (over a unix socket CONNECT gets
	// no answer, MAIL does).
	held[0].Write(append(pkt('C', "h\x00", "4", "\x00\x19", "127.0.0.1\x00"), pkt('M', "<a@example.net>\x00")...))
	if err := readPacket(held[0], 5*time.Second); err != nil {
		t.Fatalf("a connection within the cap: %v", err)
	}
	held[0].Close()
	held[1].Close()
	time.Sleep(100 * time.Millisecond)
	d.alive(t, "connections past the cap")
	if m := metricsText(t, port); !strings.Contains(m, `{event="over_cap"} 50`) {
		t.Errorf("over-cap closes not counted:\n%s", grepLines(m, "connection_events"))
	}
	d.waitLog(t, "max_connections")
}

// Out of descriptors (prlimit), accept fails with EMFILE: milterd backs
// off and goes on, and serves as soon as descriptors are free again.
func TestHostileDescriptorExhaustion(t *testing.T) {
	d, port := hostile(t, "", "", "prlimit", "--nofile=48:48")
	var held []net.Conn
	for range 80 {
		c, err := net.Dial("unix", d.socket)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	d.waitLog(t, "milter accept failed; retrying")
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-d.done:
		t.Fatalf("milterd exited out of descriptors: %v\n%s", err, tail(d.log.String()))
	default:
	}
	for _, c := range held {
		c.Close()
	}
	d.waitLog(t, "milter accept recovered")
	d.alive(t, "descriptor exhaustion")
	if m := metricsText(t, port); !strings.Contains(m, `{event="accept_error"}`) {
		t.Errorf("accept errors not counted:\n%s", grepLines(m, "connection_events"))
	}
}

// The metrics port: a client that drips its request, or keeps an idle
// connection open after one, is closed at the configured timeouts.
func TestHostileMetricsSlowloris(t *testing.T) {
	d, port := hostile(t, "", ", read_timeout: 1s, idle_timeout: 1s")
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	drip, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer drip.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range []byte("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)) {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := drip.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	keep, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	keep.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(keep), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	io.ReadAll(resp.Body)
	closedWithin(t, drip, 4*time.Second)
	closedWithin(t, keep, 4*time.Second)
	d.alive(t, "slowloris on the metrics port")
}
