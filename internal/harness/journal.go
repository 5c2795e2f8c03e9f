package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Journal is a private systemd journal: journal files written in Dir by
// systemd-journal-remote (systemd's own writer) from the entries the test
// sends, read with journalctl --directory Dir. The machine's journal is
// not touched.
type Journal struct {
	Dir string
	mu  sync.Mutex
	in  io.WriteCloser
}

// JournalRemote is where Debian's systemd-journal-remote installs it.
const JournalRemote = "/lib/systemd/systemd-journal-remote"

// StartJournal starts systemd-journal-remote writing Dir/remote.journal
// from its standard input (journal export format), stopped at cleanup.
func StartJournal(t T) *Journal {
	t.Helper()
	Require(t, JournalRemote, "journalctl")
	j := &Journal{Dir: Dir(t, "journal")}
	cmd := exec.Command(JournalRemote, "--output="+j.Dir+"/remote.journal", "--split-mode=none", "--compress=no", "-")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("%v", err)
	}
	j.in = in
	done := Start(t, cmd)
	t.Cleanup(func() { j.Close(); <-done })
	return j
}

// Close ends the input: systemd-journal-remote writes what it has and
// exits.
func (j *Journal) Close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.in.Close()
}

// Write adds one entry as syslog would for ident[pid]: msg, in the mail
// facility.
func (j *Journal) Write(ident, pid, msg string) error { return j.WriteAt(time.Now(), ident, pid, msg) }

// WriteAt is Write with the entry's time: a replayed log keeps its times.
func (j *Journal) WriteAt(at time.Time, ident, pid, msg string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	us := at.UnixMicro()
	_, err := fmt.Fprintf(j.in, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=%s\nSYSLOG_FACILITY=2\nPRIORITY=6\nSYSLOG_IDENTIFIER=%s\nSYSLOG_PID=%s\nMESSAGE=%s\n\n",
		us, us, Hostname, ident, pid, strings.ReplaceAll(msg, "\n", " "))
	return err
}

// ParseSyslog splits a syslog line "TIME HOST ident[pid]: msg".
func ParseSyslog(line string) (ident, pid, msg string, ok bool) {
	m := syslogLine.FindStringSubmatch(line)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

var syslogLine = regexp.MustCompile(`^\S+(?: +\d+ \d\d:\d\d:\d\d)? \S+ ([\w./-]+)\[(\d+)\]: (.*)$`)

// Pump copies the lines of a syslog-format log (Postfix's maillog_file)
// into the journal as they are written, as journald would have received
// them, until the test ends.
func (j *Journal) Pump(t T, path string) {
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		var f *os.File
		for f == nil {
			var err error
			if f, err = os.Open(path); err != nil {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		defer f.Close()
		rd := bufio.NewReader(f)
		partial := ""
		for {
			s, err := rd.ReadString('\n')
			if err != nil {
				partial += s
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				continue
			}
			line := strings.TrimRight(partial+s, "\n")
			partial = ""
			if ident, pid, msg, ok := ParseSyslog(line); ok {
				j.Write(ident, pid, msg)
			}
		}
	}()
}
