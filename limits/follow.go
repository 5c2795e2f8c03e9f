package limits

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"
)

// Follower reads the MTA's mail log as it grows and counts the recipients
// that were not delivered against the account that sent them: those the
// remote MX refused (bounced), those still undelivered when the message
// expired in the queue (never those delivered before), and, on Sendmail,
// those Sendmail refused at RCPT without telling the milter.
//
// It follows the file across rotation (rename and create, or copytruncate)
// and resumes at its saved position after a restart. The position is saved
// only once what was read up to it is committed to the store: a store
// outage stops it and it reads the same lines again later. Counting is
// idempotent per event, so a line read twice is not counted twice.
type Follower struct {
	Path    string // the mail log
	PosFile string // where the read position is kept
	// FromStart reads an existing log from its beginning on the first
	// start (no saved position); by default the follower starts at its
	// end, so that history already acted upon is not counted again.
	FromStart bool
	Engine    *Engine
	Log       *slog.Logger
	Poll      time.Duration // how often to look for new lines; 200ms

	sasl    map[string]string // queue id or "pid:N" -> login, from smtpd/Sendmail AUTH lines
	fifo    []string          // bounds sasl
	partial string            // a line whose end has not been written yet
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

// Run follows the log until ctx is done.
func (f *Follower) Run(ctx context.Context) error {
	if f.Poll == 0 {
		f.Poll = 200 * time.Millisecond
	}
	f.sasl = map[string]string{}
	pos, saved := f.loadPos()
	var file *os.File
	var rd *bufio.Reader
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	for {
		if file == nil {
			fh, fi, err := openStat(f.Path)
			if err == nil {
				file, rd = fh, bufio.NewReaderSize(fh, 64<<10)
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
				file.Seek(pos.offset, io.SeekStart)
				f.partial = ""
				f.Log.Info("following mail log", "path", f.Path, "from", from, "offset", pos.offset)
			} else if !os.IsNotExist(err) {
				f.Log.Warn("mail log", "err", err)
			}
		}
		if file != nil {
			if !f.catchUp(ctx, file, rd, &pos) {
				goto wait
			}
			// At the end of the file: has it been rotated or truncated?
			if fi, err := os.Stat(f.Path); err == nil {
				if inode(fi) != pos.ino {
					// rename+create: read what reached the old file since, then switch.
					if !f.catchUp(ctx, file, rd, &pos) {
						goto wait
					}
					file.Close()
					file, pos, f.partial = nil, position{}, ""
					continue
				}
				if o := f.Engine.Observer; o != nil {
					o.MaillogLag(max(0, fi.Size()-pos.offset))
				}
				if fi.Size() < pos.offset { // copytruncate
					file.Seek(0, io.SeekStart)
					rd.Reset(file)
					pos.offset, f.partial = 0, ""
					f.savePos(pos)
					continue
				}
			}
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
// only then does the position move on. When the store fails, the file is
// put back at the committed position, to be read again at the next poll.
func (f *Follower) catchUp(ctx context.Context, file *os.File, rd *bufio.Reader, pos *position) bool {
	for {
		bctx, cancel := context.WithTimeout(ctx, batchTimeout)
		n, more, err := f.readLines(bctx, rd)
		cancel()
		if err != nil {
			f.Log.Error("mail log: not counted, will read again", "offset", pos.offset, "err", err)
			file.Seek(pos.offset, io.SeekStart)
			rd.Reset(file)
			f.partial = ""
			return false
		}
		if n > 0 {
			pos.offset += n
			f.savePos(*pos)
		}
		if !more {
			return true
		}
	}
}

// batch is what a run of lines says, committed together.
type batch struct {
	delivered map[msgRef][]string
	events    map[string][]Undeliverable
}

type msgRef struct{ host, qid string }

// readLines processes the complete lines available, up to batchLines; a
// partial last line is kept until its end arrives. It returns the bytes of
// the complete lines, once what they say is committed, and whether more
// lines may be waiting.
func (f *Follower) readLines(ctx context.Context, rd *bufio.Reader) (int64, bool, error) {
	var consumed int64
	b := &batch{delivered: map[msgRef][]string{}, events: map[string][]Undeliverable{}}
	for lines := 0; ; lines++ {
		if lines == batchLines {
			return consumed, true, f.commit(ctx, b)
		}
		chunk, err := rd.ReadString('\n')
		if err != nil {
			f.partial += chunk
			if err != io.EOF {
				return 0, false, err
			}
			break
		}
		line := f.partial + chunk
		f.partial = ""
		consumed += int64(len(line))
		if err := f.line(ctx, strings.TrimRight(line, "\r\n"), b); err != nil {
			return 0, false, err
		}
	}
	return consumed, false, f.commit(ctx, b)
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
	case "auth": // Sendmail: the session's login, by process id
		f.remember("pid:"+l.PID, l.User)
		return nil
	case "sent":
		ref := msgRef{host, l.QueueID}
		b.delivered[ref] = append(b.delivered[ref], l.Rcpt)
		return nil
	case "refused": // Sendmail at RCPT: no record yet, the session's login
		if key := f.sasl["pid:"+l.PID]; key != "" {
			b.add(f.Engine.Accounts.Login(key), l, l.Rcpt, host)
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
	if l.Rcpt != "" { // bounced: that recipient
		rcpts = []string{l.Rcpt}
	} else { // expired: those not delivered, also not in this batch
		rcpts = pending(rcpts, b.delivered[msgRef{host, l.QueueID}])
	}
	for _, r := range rcpts {
		b.add(key, l, r, host)
	}
	return nil
}

// add counts rcpt of l against key. A recipient has one event id whether it
// bounced or expired, so it counts once.
func (b *batch) add(key string, l LogLine, rcpt, host string) {
	b.events[key] = append(b.events[key], Undeliverable{
		ID: fmt.Sprintf("log:%s:%s:%s", host, l.QueueID, rcpt), Time: l.Time,
		Rcpt: rcpt, Status: l.DSN, Text: l.Text, QueueID: l.QueueID, Source: "log",
	})
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
	for ref, rcpts := range b.delivered {
		if err := f.Engine.Store.Delivered(ctx, ref.host, ref.qid, rcpts); err != nil {
			return fmt.Errorf("recording deliveries: %w", err)
		}
	}
	for key, evs := range b.events {
		if _, err := f.Engine.Undeliverable(ctx, key, evs); err != nil {
			return fmt.Errorf("counting undeliverable recipients of %s: %w", key, err)
		}
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
func (f *Follower) savePos(p position) {
	tmp := f.PosFile + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", p.ino, p.offset), 0o600); err == nil {
		err = os.Rename(tmp, f.PosFile)
		if err != nil {
			f.Log.Warn("saving mail log position", "err", err)
		}
	}
}
