package limits

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Follower reads the MTA's mail log as it grows and counts what receivers
// refused against the account that sent it (Classify): recipients the
// remote MX refused (bounced) and messages it refused as a whole, those
// recipients still undelivered when the message expired in the queue
// (never those delivered before), and, on Sendmail, those Sendmail refused
// at RCPT without telling the milter.
//
// The log is a file (rsyslog's, or Postfix's own maillog_file through
// postlogd) followed across rotation (rename and create, or copytruncate),
// or the systemd journal read by cursor (journal.go). It resumes at its
// saved position after a restart. The position is saved only once what was
// read up to it is committed to the store: a store outage stops it and it
// reads the same lines again later. Counting is idempotent per event, so a
// line read twice is not counted twice.
//
// A log it cannot read, or one that stays silent while milterd accepts
// mail, is an error Health reports (/readyz) and the log names once, with
// the fix.
type Follower struct {
	Source  string // "file" (default) or "journal"
	Path    string // the mail log; with the journal, its directory ("": the system's)
	PosFile string // where the read position (or the journal cursor) is kept
	// FromStart reads an existing log from its beginning on the first
	// start (no saved position); by default the follower starts at its
	// end, so that history already acted upon is not counted again.
	FromStart bool
	Engine    *Engine
	Log       *slog.Logger
	Poll      time.Duration // how often to look for new lines; 200ms
	// RenameQuiet: after a rename, the old file is still read until no
	// line has reached it for this long (a writer such as rsyslog keeps
	// writing to it until it reopens the path); 1 minute.
	RenameQuiet time.Duration
	// Silence: when milterd accepted mail this long ago and no log line
	// has been read since, the log is taken as lost (Health fails); 2
	// minutes. The MTA logs every message it queues within a second.
	Silence time.Duration

	sasl map[string]string // queue id, "pid:N", "data:QID" or a refused message's event id -> login or mark
	fifo []string          // bounds sasl

	mu        sync.Mutex
	err       error     // why the source cannot be read now; nil when it can
	lastLine  time.Time // when a line was last read
	caughtUp  time.Time // when the follower was last at the end of its source
	startedAt time.Time
}

// logFile is an open mail log being read.
type logFile struct {
	file    *os.File
	rd      *bufio.Reader
	pos     position
	partial string    // a line whose end has not been written yet
	grew    time.Time // when a line was last read from it
}

type position struct {
	ino    uint64
	offset int64
}

const (
	saslMemory = 100000 // logins remembered from smtpd lines
	// batchTimeout bounds the store work of one poll: a hung store is
	// treated as down, and the same lines are read again later.
	batchTimeout = 5 * time.Second
	batchLines   = 2000 // lines committed together: a long backlog in bounded steps
)

// Health reports why the follower is not counting what the MTA logs: its
// source unreadable (with the fix), or silent while mail is accepted. It is
// the "maillog" probe of /readyz.
func (f *Follower) Health(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || f.startedAt.IsZero() { // not started yet: nothing to say
		return f.err
	}
	since := f.lastLine
	if since.IsZero() {
		since = f.startedAt
	}
	if admitted := f.Engine.LastAdmitted(); admitted.After(since) && time.Since(admitted) > f.Silence {
		return fmt.Errorf("no mail log line read since %s although milterd accepted mail at %s: the MTA does not log to %s (%s)",
			since.UTC().Format(time.RFC3339), admitted.UTC().Format(time.RFC3339), f.where(), f.fixSilent())
	}
	return nil
}

// Lag is how long ago the follower was last at the end of its source: 0
// while it keeps up, growing while it cannot read or catch up.
func (f *Follower) Lag() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.startedAt.IsZero():
		return 0
	case f.caughtUp.IsZero():
		return time.Since(f.startedAt)
	}
	return time.Since(f.caughtUp)
}

func (f *Follower) where() string {
	if f.Source == "journal" {
		if f.Path == "" {
			return "the systemd journal"
		}
		return "the journal in " + f.Path
	}
	return f.Path
}

func (f *Follower) fixSilent() string {
	if f.Source == "journal" {
		return "with maillog_file set, Postfix logs to that file instead: use limits.maillog.source: file"
	}
	return "on Debian 12, without rsyslog, set Postfix's maillog_file = " + f.Path + " (postconf -e maillog_file=" + f.Path + "; postfix reload), or use limits.maillog.source: journal"
}

// setErr records the source's state; a new error is logged once, with its
// fix, and its end too.
func (f *Follower) setErr(err error) {
	f.mu.Lock()
	prev := f.err
	f.err = err
	f.mu.Unlock()
	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		f.Log.Error("mail log: not counting bounces and refusals", "err", err)
	case err == nil && prev != nil:
		f.Log.Info("mail log readable again", "source", f.where())
	}
}

// read marks that lines were read (n > 0) or that the source has no more
// for now (atEnd).
func (f *Follower) read(n int64, atEnd bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if n > 0 {
		f.lastLine = now
	}
	if atEnd {
		f.caughtUp = now
	}
}

func (f *Follower) init() {
	if f.Poll == 0 {
		f.Poll = 200 * time.Millisecond
	}
	if f.RenameQuiet == 0 {
		f.RenameQuiet = time.Minute
	}
	if f.Silence == 0 {
		f.Silence = 2 * time.Minute
	}
	f.sasl = map[string]string{}
	f.mu.Lock()
	f.startedAt = time.Now()
	f.mu.Unlock()
}

// Run follows the log until ctx is done.
func (f *Follower) Run(ctx context.Context) error {
	f.init()
	if f.Source == "journal" {
		return f.runJournal(ctx)
	}
	return f.runFile(ctx)
}

// openError says what to do about a mail log that cannot be opened.
func (f *Follower) openError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("mail log %s does not exist: %s", f.Path, f.fixSilent())
	case errors.Is(err, fs.ErrPermission):
		group := "adm"
		if fi, serr := os.Stat(f.Path); serr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				if g, gerr := user.LookupGroupId(fmt.Sprint(st.Gid)); gerr == nil {
					group = g.Name
				}
			}
		}
		return fmt.Errorf("mail log %s is not readable by milterd (uid %d): add its user to group %s (usermod -aG %s USER, or SupplementaryGroups=%s in its systemd unit), then restart it",
			f.Path, os.Getuid(), group, group, group)
	}
	return fmt.Errorf("mail log %s: %w", f.Path, err)
}

func (f *Follower) runFile(ctx context.Context) error {
	pos, saved := f.loadPos()
	var cur, old *logFile // old: renamed away, read until quiet
	defer func() {
		for _, lf := range []*logFile{cur, old} {
			if lf != nil {
				lf.file.Close()
			}
		}
	}()
	for {
		if old != nil {
			if f.catchUp(ctx, old, false) && time.Since(old.grew) > f.RenameQuiet {
				f.Log.Info("mail log: done with the rotated file", "path", f.Path, "quiet", f.RenameQuiet)
				old.file.Close()
				old = nil
			}
		}
		if cur == nil {
			fh, fi, err := openStat(f.Path)
			if err != nil {
				if old == nil || !errors.Is(err, fs.ErrNotExist) { // else: renamed, not created again yet
					f.setErr(f.openError(err))
				}
				goto wait
			}
			ino := inode(fi)
			from := "saved position"
			switch {
			case !saved && !f.FromStart:
				pos, from = position{ino: ino, offset: fi.Size()}, "end (first start)"
			case ino != pos.ino || fi.Size() < pos.offset:
				pos, from = position{ino: ino}, "beginning (a new file)"
			}
			saved = true
			f.savePos(pos)
			fh.Seek(pos.offset, io.SeekStart)
			cur = &logFile{file: fh, rd: bufio.NewReaderSize(fh, 64<<10), pos: pos, grew: time.Now()}
			f.Log.Info("following mail log", "path", f.Path, "from", from, "offset", pos.offset)
		}
		if fi, err := os.Stat(f.Path); err == nil && inode(fi) == cur.pos.ino && f.Engine.Observer != nil {
			f.Engine.Observer.MaillogLag(max(0, fi.Size()-cur.pos.offset))
		}
		if !f.catchUp(ctx, cur, true) {
			goto wait
		}
		f.setErr(nil)
		// At the end of the file: has it been rotated or truncated?
		if fi, err := os.Stat(f.Path); err == nil {
			if inode(fi) != cur.pos.ino {
				// rename+create: the old file is read on until it is
				// quiet, the new one from its beginning.
				if old != nil {
					old.file.Close()
				}
				old, cur = cur, nil
				old.grew = time.Now()
				pos, saved = position{}, true
				continue
			}
			if f.Engine.Observer != nil {
				f.Engine.Observer.MaillogLag(max(0, fi.Size()-cur.pos.offset))
			}
			if fi.Size() < cur.pos.offset { // copytruncate
				cur.file.Seek(0, io.SeekStart)
				cur.rd.Reset(cur.file)
				cur.pos.offset, cur.partial = 0, ""
				f.savePos(cur.pos)
				continue
			}
		} else if errors.Is(err, fs.ErrNotExist) && old == nil {
			// Renamed and not created again (yet): read it on until quiet.
			old, cur = cur, nil
			pos, saved = position{}, true
		}
	wait:
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.Poll):
		}
	}
}

// catchUp reads the complete lines available and commits what they say;
// only then does the position move on (and, for the current file, is it
// saved). When the store fails, the file is put back at the committed
// position, to be read again at the next poll.
func (f *Follower) catchUp(ctx context.Context, lf *logFile, current bool) bool {
	for {
		bctx, cancel := context.WithTimeout(ctx, batchTimeout)
		n, more, err := f.readLines(bctx, lf)
		cancel()
		if err != nil {
			f.Log.Error("mail log: not counted, will read again", "offset", lf.pos.offset, "err", err)
			lf.file.Seek(lf.pos.offset, io.SeekStart)
			lf.rd.Reset(lf.file)
			lf.partial = ""
			return false
		}
		if n > 0 {
			lf.pos.offset += n
			lf.grew = time.Now()
			if current {
				f.savePos(lf.pos)
			}
		}
		f.read(n, !more && current)
		if !more {
			return true
		}
	}
}

// batch is what a run of lines says, committed together.
type batch struct {
	delivered map[string][]string // queue id (of this host) -> recipients delivered
	events    map[string][]Undeliverable
	seen      map[string]bool // message refusals in the batch: one event for all their lines
}

// readLines processes the complete lines available, up to batchLines; a
// partial last line is kept until its end arrives. It returns the bytes of
// the complete lines, once what they say is committed, and whether more
// lines may be waiting.
func (f *Follower) readLines(ctx context.Context, lf *logFile) (int64, bool, error) {
	var consumed int64
	b := newBatch()
	for lines := 0; ; lines++ {
		if lines == batchLines {
			return consumed, true, f.commit(ctx, b)
		}
		chunk, err := lf.rd.ReadString('\n')
		if err != nil {
			lf.partial += chunk
			if err != io.EOF {
				return 0, false, err
			}
			break
		}
		line := lf.partial + chunk
		lf.partial = ""
		consumed += int64(len(line))
		if err := f.line(ctx, strings.TrimRight(line, "\r\n"), b); err != nil {
			return 0, false, err
		}
	}
	return consumed, false, f.commit(ctx, b)
}

func newBatch() *batch {
	return &batch{delivered: map[string][]string{}, events: map[string][]Undeliverable{}, seen: map[string]bool{}}
}

func (f *Follower) line(ctx context.Context, s string, b *batch) error {
	l, ok := ParseLogLine(s, time.Now())
	if !ok {
		return nil
	}
	host := f.Engine.Accounts.Host
	switch l.Kind {
	case "sasl":
		f.remember(l.QueueID, l.User)
		return nil
	case "auth": // Sendmail: the session's login, by process id, with its client
		f.remember("pid:"+l.PID, l.User+"\x00"+l.Relay)
		return nil
	case "end": // Sendmail: that process's session is over, or unauthenticated
		if f.sasl["pid:"+l.PID] != "" {
			f.remember("pid:"+l.PID, "")
		}
		return nil
	case "data": // Sendmail: the next to= line of this message was refused at DATA
		f.remember("data:"+l.QueueID, "1")
		return nil
	case "sent":
		b.delivered[l.QueueID] = append(b.delivered[l.QueueID], l.Rcpts...)
		return nil
	case "refused": // Sendmail at RCPT: no record yet, the session's login
		// A process id is reused by later sessions: the login holds for
		// refusals to the same client only, until the session ends.
		user, relay, _ := strings.Cut(f.sasl["pid:"+l.PID], "\x00")
		if user != "" && relay == l.Relay {
			f.add(b, f.Engine.Accounts.Login(user), l, l.Rcpts, host, Classify(l.DSN, l.Text))
		}
		return nil
	}
	key, rcpts, err := f.Engine.Store.Owner(ctx, host, l.QueueID)
	if err != nil {
		return fmt.Errorf("looking up queue id %s: %w", l.QueueID, err)
	}
	if key == "" {
		key = f.Engine.Accounts.Login(f.sasl[l.QueueID])
	}
	if key == "" {
		f.Log.Debug("mail log: cannot attribute", "qid", l.QueueID)
		return nil
	}
	scope := RecipientScope
	if l.Kind == "bounced" {
		if scope = Classify(l.DSN, l.Text); scope != NotCounted && f.sasl["data:"+l.QueueID] != "" {
			scope = MessageScope
		}
		rcpts = l.Rcpts
	} else { // expired: those not delivered, also not in this batch
		rcpts = onePerDomain(pending(rcpts, b.delivered[l.QueueID]))
	}
	f.add(b, key, l, rcpts, host, scope)
	return nil
}

// add counts rcpts of l against key. A recipient has one event id whether
// it bounced or expired, so it counts once; a message refused as a whole
// has one for all its recipients and all the lines that name them.
func (f *Follower) add(b *batch, key string, l LogLine, rcpts []string, host string, scope Scope) {
	if len(rcpts) == 0 || scope == NotCounted {
		return
	}
	if scope == MessageScope {
		id := fmt.Sprintf("log:%s:%s:message", host, l.QueueID)
		if b.seen[id] || f.sasl[id] != "" { // in this batch, or committed with an earlier one
			return
		}
		b.seen[id] = true
		b.events[key] = append(b.events[key], Undeliverable{
			ID: id, Kind: KindMessage, Time: l.Time,
			Rcpt: rcpts[0], Status: l.DSN, Text: l.Text, QueueID: l.QueueID, Source: "log",
		})
		return
	}
	for _, rcpt := range rcpts {
		b.events[key] = append(b.events[key], Undeliverable{
			ID: fmt.Sprintf("log:%s:%s:%s", host, l.QueueID, rcpt), Time: l.Time,
			Rcpt: rcpt, Status: l.DSN, Text: l.Text, QueueID: l.QueueID, Source: "log",
		})
	}
}

func (f *Follower) remember(id, user string) {
	if len(f.fifo) >= saslMemory {
		delete(f.sasl, f.fifo[0])
		f.fifo = f.fifo[1:]
	}
	f.sasl[id] = user
	f.fifo = append(f.fifo, id)
}

// commit writes the batch: deliveries first, so that an expiry read in a
// later batch does not charge them.
func (f *Follower) commit(ctx context.Context, b *batch) error {
	if len(b.delivered) > 0 {
		if err := f.Engine.Store.Delivered(ctx, f.Engine.Accounts.Host, b.delivered); err != nil {
			return fmt.Errorf("recording deliveries: %w", err)
		}
	}
	for key, evs := range b.events {
		if _, err := f.Engine.Undeliverable(ctx, key, evs); err != nil {
			return fmt.Errorf("counting refusals of %s: %w", key, err)
		}
	}
	// A refused message's later lines (its other recipients, read with a
	// later batch) are not passed on again: the store would not count them,
	// the metrics and the log would.
	for id := range b.seen {
		f.remember(id, "1")
	}
	return nil
}

func openStat(path string) (*os.File, os.FileInfo, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	return fh, fi, nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// loadPos returns the saved position, and whether there was one.
func (f *Follower) loadPos() (position, bool) {
	var p position
	b, err := os.ReadFile(f.PosFile)
	if err != nil {
		return p, false
	}
	_, err = fmt.Sscanf(string(b), "%d %d", &p.ino, &p.offset)
	return p, err == nil
}

// savePos writes the position atomically: a crash leaves the old or the
// new one, and replayed lines are not counted twice anyway.
func (f *Follower) savePos(p position) { f.savePosText(fmt.Sprintf("%d %d\n", p.ino, p.offset)) }

// savePosText writes the position file (a file's position, or a journal
// cursor) atomically.
func (f *Follower) savePosText(s string) {
	tmp := f.PosFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o600); err == nil {
		err = os.Rename(tmp, f.PosFile)
		if err != nil {
			f.Log.Warn("saving mail log position", "err", err)
		}
	}
}

// onePerDomain keeps one recipient per domain (the first in sort order, so
// that a line read again gives the same event ids). An expired message
// names no refusal: its recipients' domain did not answer in time (a
// server down, a greylisting longer than maximal_queue_lifetime), which
// says nothing about each address; a club of 12 members at one dead domain
// is one undeliverable destination, a spam list's dead domains are many.
func onePerDomain(rcpts []string) []string {
	rcpts = slices.Clone(rcpts)
	slices.Sort(rcpts)
	seen := map[string]bool{}
	out := rcpts[:0]
	for _, r := range rcpts {
		d := strings.ToLower(r[strings.LastIndexByte(r, '@')+1:])
		if !seen[d] {
			seen[d] = true
			out = append(out, r)
		}
	}
	return out
}
