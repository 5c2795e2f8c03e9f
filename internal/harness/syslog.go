package harness

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// StartSyslog receives what programs send to /dev/log (Sendmail logs
// nowhere else) and appends each message to path as a log line. Only one
// test at a time can own /dev/log: tests of other packages, run at the
// same time, wait for it (a lock file).
func StartSyslog(t T, path string) {
	t.Helper()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "outguard-dev-log.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("locking /dev/log: %v", err)
	}
	t.Cleanup(func() { lock.Close() }) // the lock goes with the descriptor
	if c, err := net.Dial("unixgram", "/dev/log"); err == nil {
		c.Close()
		t.Fatalf("/dev/log is in use by a syslog daemon: point the test at its log file instead")
	}
	os.Remove("/dev/log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "/dev/log", Net: "unixgram"})
	if err != nil {
		t.Fatalf("syslog: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { conn.Close(); os.Remove("/dev/log"); f.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			// "<PRI>Nov 28 02:26:15 prog[pid]: text": drop PRI, add a host
			// field as syslog daemons write it.
			if i := strings.IndexByte(msg, '>'); strings.HasPrefix(msg, "<") && i > 0 {
				msg = msg[i+1:]
			}
			if len(msg) > 16 {
				msg = msg[:16] + "localhost " + msg[16:]
			}
			f.WriteString(strings.TrimRight(msg, "\n") + "\n")
		}
	}()
}
