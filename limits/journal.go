package limits

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The systemd journal is read through journalctl, the journal's own reader
// (its file format is systemd's to change): `journalctl -o json --follow`,
// mail facility only, from the cursor saved after the last commit, so that
// a restart resumes exactly after the last entry counted.

// journalEntry is what the follower reads of a journal entry (journalctl
// -o json: every field a string, or an array of bytes when not UTF-8).
type journalEntry struct {
	Cursor    string          `json:"__CURSOR"`
	Realtime  string          `json:"__REALTIME_TIMESTAMP"` // µs since the epoch
	Host      string          `json:"_HOSTNAME"`
	Ident     string          `json:"SYSLOG_IDENTIFIER"`
	SyslogPID string          `json:"SYSLOG_PID"`
	PID       string          `json:"_PID"`
	Message   json.RawMessage `json:"MESSAGE"`
}

// line renders the entry as a syslog line with an RFC 3339 time, the form
// ParseLogLine reads.
func (e *journalEntry) line() string {
	var msg string
	if json.Unmarshal(e.Message, &msg) != nil {
		var b []byte
		if json.Unmarshal(e.Message, &b) != nil {
			var ints []int // journalctl writes bytes as an array of numbers
			json.Unmarshal(e.Message, &ints)
			for _, i := range ints {
				b = append(b, byte(i))
			}
		}
		msg = string(b)
	}
	us, _ := strconv.ParseInt(e.Realtime, 10, 64)
	pid := e.SyslogPID
	if pid == "" {
		pid = e.PID
	}
	host := e.Host
	if host == "" {
		host = "-"
	}
	// One line: a message with a newline would otherwise end early.
	msg = strings.ReplaceAll(msg, "\n", " ")
	return fmt.Sprintf("%s %s %s[%s]: %s", time.UnixMicro(us).Format(time.RFC3339Nano), host, e.Ident, pid, msg)
}

const cursorPrefix = "cursor "

// errJournalEmpty: journalctl --follow exits on a journal without any
// entry ("No such boot ID in journal"); it is started again until one
// comes.
var errJournalEmpty = errors.New("the journal has no entries yet")

// runJournal follows the journal, restarting journalctl from the saved
// cursor after a store error or when it exits.
func (f *Follower) runJournal(ctx context.Context) error {
	for {
		err := f.journal(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, errJournalEmpty) {
			f.setErr(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(f.Poll, time.Second)):
		}
	}
}

// journal runs one journalctl until it fails, the store fails, or ctx ends.
func (f *Follower) journal(ctx context.Context) error {
	base := []string{"-o", "json", "--no-pager", "--quiet", "SYSLOG_FACILITY=2"} // the mail facility
	if f.Path != "" {
		base = append(base, "--directory", f.Path)
	}
	cursor := ""
	if b, err := os.ReadFile(f.PosFile); err == nil {
		cursor, _ = strings.CutPrefix(strings.TrimSpace(string(b)), cursorPrefix)
		if !strings.HasPrefix(string(b), cursorPrefix) {
			cursor = ""
		}
	}
	if f.Path != "" {
		// journalctl follows a directory that does not exist in silence.
		if _, err := os.Stat(f.Path); err != nil {
			return fmt.Errorf("journal directory %s: %w", f.Path, err)
		}
	}
	if cursor == "" && !f.FromStart {
		// The first start begins at the end: the newest entry's cursor is
		// kept at once, so that a restart before any mail resumes there,
		// not at a later end.
		out, _ := exec.CommandContext(ctx, "journalctl", append(base[:len(base):len(base)], "--lines", "1")...).Output()
		var last journalEntry
		if json.Unmarshal(bytes.TrimSpace(out), &last) == nil && last.Cursor != "" {
			cursor = last.Cursor
			f.savePosText(cursorPrefix + cursor + "\n")
		}
	}
	args := append(base[:len(base):len(base)], "--follow")
	switch {
	case cursor != "":
		args = append(args, "--after-cursor", cursor)
	case f.FromStart:
		args = append(args, "--no-tail")
	default:
		args = append(args, "--lines", "0")
	}
	jctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(jctx, "journalctl", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return err
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return fmt.Errorf("journalctl: %w (install systemd, or use limits.maillog.source: file)", err)
	}
	entries := make(chan journalEntry, batchLines)
	readErr := make(chan error, 1)
	go func() {
		defer close(entries)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var e journalEntry
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Cursor == "" {
				continue
			}
			select {
			case entries <- e:
			case <-jctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	// journalctl --follow never ends by itself: stopped first, then waited
	// for.
	defer func() { cancel(); cmd.Wait() }()
	f.Log.Info("following the journal", "directory", f.Path, "after_cursor", cursor != "")
	started := time.Now()
	tick := time.NewTicker(max(f.Poll, 100*time.Millisecond))
	defer tick.Stop()
	for {
		var first journalEntry
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case first, ok = <-entries:
		case <-tick.C:
			if err := journalError(stderr.String()); err != nil {
				return err
			}
			if time.Since(started) > time.Second {
				f.setErr(nil)
			}
			f.read(0, len(entries) == 0)
			continue
		}
		if !ok {
			cmd.Wait()
			if strings.Contains(stderr.String(), "No such boot ID in journal") {
				return errJournalEmpty
			}
			if err := journalError(stderr.String()); err != nil {
				return err
			}
			return fmt.Errorf("journalctl exited (%v): %s", <-readErr, strings.TrimSpace(stderr.String()))
		}
		// What is waiting, up to batchLines, is committed together.
		batch := []journalEntry{first}
	more:
		for len(batch) < batchLines {
			select {
			case e, ok := <-entries:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		bctx, bcancel := context.WithTimeout(ctx, batchTimeout)
		err := f.journalBatch(bctx, batch)
		bcancel()
		if err != nil {
			f.Log.Error("mail log: not counted, will read again", "err", err)
			return nil // journalctl starts again from the saved cursor
		}
		f.savePosText(cursorPrefix + batch[len(batch)-1].Cursor + "\n")
		f.read(int64(len(batch)), len(entries) == 0)
	}
}

func (f *Follower) journalBatch(ctx context.Context, entries []journalEntry) error {
	b := newBatch()
	for i := range entries {
		if err := f.line(ctx, entries[i].line(), b); err != nil {
			return err
		}
	}
	return f.commit(ctx, b)
}

// journalError reads journalctl's complaints: it follows nothing, and
// says so only on stderr, when it may not read the system's journal.
func journalError(stderr string) error {
	switch {
	case strings.Contains(stderr, "not seeing messages from other users and the system"),
		strings.Contains(stderr, "No journal files were opened due to insufficient permissions"):
		return errors.New("journalctl may not read the system journal: add milterd's user to group systemd-journal (usermod -aG systemd-journal USER, or SupplementaryGroups=systemd-journal in its systemd unit), then restart it")
	case strings.Contains(stderr, "No journal files were found"):
		return errors.New("no journal files: journald keeps none here (Storage=none?), or Postfix logs to a file: use limits.maillog.source: file with its maillog_file")
	case strings.Contains(stderr, "Failed to"):
		return fmt.Errorf("journalctl: %s", strings.TrimSpace(stderr))
	}
	return nil
}

// lockedBuffer is a command's stderr, written by exec's copier while the
// follower reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
