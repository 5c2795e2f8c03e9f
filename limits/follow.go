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
// that bounced at the remote MX against the account that sent them. It
// follows the file across rotation (rename and create, or copytruncate)
// and resumes at its saved position after a restart; counting is
// idempotent per event, so a line read twice is not counted twice.
type Follower struct {
	Path    string // the mail log
	PosFile string // where the read position is kept
	Engine  *Engine
	Log     *slog.Logger
	Poll    time.Duration // how often to look for new lines; 200ms

	sasl    map[string]string // queue id -> SASL login, from smtpd lines
	fifo    []string          // bounds sasl
	partial string            // a line whose end has not been written yet
}

type position struct {
	ino    uint64
	offset int64
}

const saslMemory = 100000 // queue ids remembered from smtpd lines

// Run follows the log until ctx is done.
func (f *Follower) Run(ctx context.Context) error {
	if f.Poll == 0 {
		f.Poll = 200 * time.Millisecond
	}
	f.sasl = map[string]string{}
	pos := f.loadPos()
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
				if ino != pos.ino || fi.Size() < pos.offset {
					pos = position{ino: ino} // a new file since we last read
				}
				file.Seek(pos.offset, io.SeekStart)
				f.partial = ""
				f.Log.Info("following mail log", "path", f.Path, "offset", pos.offset)
			} else if !os.IsNotExist(err) {
				f.Log.Warn("mail log", "err", err)
			}
		}
		if file != nil {
			n, err := f.readLines(ctx, rd, &pos)
			if n > 0 {
				f.savePos(pos)
			}
			if err != nil {
				f.Log.Warn("mail log", "err", err)
			}
			// At the end of the file: has it been rotated or truncated?
			if fi, err := os.Stat(f.Path); err == nil {
				if inode(fi) != pos.ino {
					// rename+create: read what reached the old file since, then switch.
					if n, _ := f.readLines(ctx, rd, &pos); n > 0 {
						f.savePos(pos)
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
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.Poll):
		}
	}
}

// readLines processes the complete lines available; a partial last line
// is kept until its end arrives. pos.offset advances by the complete lines.
func (f *Follower) readLines(ctx context.Context, rd *bufio.Reader, pos *position) (int64, error) {
	var consumed int64
	batch := map[string][]Undeliverable{}
	defer func() {
		f.flush(ctx, batch)
		pos.offset += consumed
	}()
	for {
		chunk, err := rd.ReadString('\n')
		if err != nil {
			f.partial += chunk
			if err == io.EOF {
				err = nil
			}
			return consumed, err
		}
		line := f.partial + chunk
		f.partial = ""
		consumed += int64(len(line))
		f.line(ctx, strings.TrimRight(line, "\r\n"), batch)
	}
}

func (f *Follower) line(ctx context.Context, s string, batch map[string][]Undeliverable) {
	l, ok := ParseLogLine(s, time.Now())
	if !ok {
		return
	}
	if l.Kind == "sasl" {
		if len(f.fifo) >= saslMemory {
			delete(f.sasl, f.fifo[0])
			f.fifo = f.fifo[1:]
		}
		f.sasl[l.QueueID] = l.User
		f.fifo = append(f.fifo, l.QueueID)
		return
	}
	key, rcpts, err := f.Engine.Store.Owner(ctx, l.QueueID)
	if err != nil {
		f.Log.Warn("mail log: looking up queue id", "qid", l.QueueID, "err", err)
		return
	}
	if key == "" {
		key = f.sasl[l.QueueID]
	}
	if key == "" {
		f.Log.Debug("mail log: cannot attribute", "qid", l.QueueID)
		return
	}
	if l.Rcpt != "" {
		rcpts = []string{l.Rcpt}
	}
	for _, r := range rcpts {
		batch[key] = append(batch[key], Undeliverable{
			ID: fmt.Sprintf("log:%s:%s:%s", l.QueueID, r, l.Kind), Time: l.Time,
			Rcpt: r, Status: l.DSN, Text: l.Text, QueueID: l.QueueID, Source: "log",
		})
	}
}

func (f *Follower) flush(ctx context.Context, batch map[string][]Undeliverable) {
	for key, evs := range batch {
		if _, err := f.Engine.Undeliverable(ctx, key, evs); err != nil {
			f.Log.Error("counting undeliverable recipients", "account", key, "err", err)
		}
		delete(batch, key)
	}
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

func (f *Follower) loadPos() position {
	var p position
	b, err := os.ReadFile(f.PosFile)
	if err == nil {
		fmt.Sscanf(string(b), "%d %d", &p.ino, &p.offset)
	}
	return p
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
