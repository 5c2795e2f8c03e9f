// Package harness starts real components on loopback for end-to-end tests:
// Postfix from its own config dir with Cyrus sasldb AUTH, and an SMTP sink
// Postfix relays to. Everything it starts is stopped by PID at test cleanup.
// A component the machine lacks fails the test: it never skips.
package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// T is the part of testing.TB the harness uses; the demo provides its own.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
}

// Require fails the test when a program is missing.
func Require(t T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is not installed: run .ci/run (or apt-get install the packages it lists); these tests never skip", p)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatalf("end-to-end tests start Postfix and need root")
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Dir makes a directory the unprivileged Postfix daemons can traverse
// (t.TempDir is 0700) and short enough for unix socket paths.
func Dir(t T, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp("", "og-"+prefix+"-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %v: %s", name, args, err, out)
	}
	return nil
}

func waitPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ProcessCPU is a process's user and system CPU time in ms (0 for none).
func ProcessCPU(pid int) float64 {
	if pid == 0 {
		return 0
	}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:]) // after "(comm) "
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) * 10 // USER_HZ = 100
}

// PeakRSS is a process's high-water resident set size in MiB (VmHWM).
func PeakRSS(pid int) float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
