package clamd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PassesFds reports whether scans hand clamd a descriptor (zFILDES)
// instead of streaming: asked for, possible (every clamd on a unix socket:
// the same host), and not switched off by a clamd that could not read one.
func (c *Client) PassesFds() bool {
	return c.opt.FdPassing && c.local && !c.fdOff.Load()
}

// StopFdPassing makes every later scan stream (INSTREAM) instead.
func (c *Client) StopFdPassing() { c.fdOff.Store(true) }

// ScanFd has clamd scan the file behind fd, which it receives over the
// unix socket (SCM_RIGHTS) and reads itself from offset 0: the message is
// neither copied to clamd nor written again into clamd's temporary
// directory, as INSTREAM does. This is what clamav-milter does with a
// local clamd. The scans go over IDSESSION connections kept between
// messages (no connect per message); one that clamd closed while idle is
// replaced at once: the descriptor is still ours to pass again.
func (c *Client) ScanFd(ctx context.Context, fd int) (Result, error) {
	for {
		cn, err := c.dial(ctx, true)
		if err != nil {
			return Result{}, err
		}
		res, err := c.fildes(ctx, cn, fd)
		var reply ReplyError
		if err != nil && cn.reused && !errors.As(err, &reply) && ctx.Err() == nil {
			continue // a stale session: each one tried is gone, so this ends
		}
		return res, err
	}
}

// fildes runs one FILDES on cn, and parks cn for the next scan when clamd
// answered it cleanly.
func (c *Client) fildes(ctx context.Context, cn *conn, fd int) (Result, error) {
	uc, ok := cn.Conn.(*net.UnixConn)
	if !ok {
		cn.Close()
		return Result{}, fmt.Errorf("clamd %s: FILDES needs a unix socket", cn.b.addr)
	}
	stop := context.AfterFunc(ctx, func() { cn.SetDeadline(time.Now()) })
	res, err := func() (Result, error) {
		cn.SetWriteDeadline(time.Now().Add(c.opt.IOTimeout))
		// The command and the descriptor in one message (clamav-milter
		// sends the command, then a byte carrying the descriptor: two
		// system calls here and two wake-ups of clamd a message). clamd
		// takes a descriptor from whatever read brings it (its
		// readsock keeps SCM_RIGHTS with the buffer), and the byte after
		// the command's NUL is the one it expects to carry it.
		req := []byte("zFILDES\x00\x00")
		n, _, err := uc.WriteMsgUnix(req, syscall.UnixRights(fd), nil)
		if err == nil && n < len(req) { // a short write: the descriptor went with its first bytes
			_, err = uc.Write(req[n:])
		}
		if err != nil {
			return Result{}, fmt.Errorf("clamd %s: FILDES: passing the descriptor: %w", cn.b.addr, err)
		}
		cn.SetReadDeadline(time.Now().Add(c.opt.ReplyTimeout))
		reply, err := readReply(cn)
		if err != nil {
			return Result{}, err
		}
		cn.b.answer.Store(time.Now().UnixNano())
		if cn.session { // clamd numbers a session's replies: "3: fd[9]: OK"
			if n, rest, ok := strings.Cut(reply, ": "); ok && n != "" && strings.Trim(n, "0123456789") == "" {
				reply = rest
			}
		}
		return ParseReply(reply)
	}()
	// Parked only if clean, and only if ctx's deadline-setter has not run
	// and never will: it would break the next scan on this connection.
	if stop() && err == nil {
		cn.park()
	} else {
		cn.Close()
	}
	return res, err
}

// Message is what Check.CheckMessage hands clamd: the spooled message,
// which offers its file while it is on disk, or its bytes while in memory.
type Message interface {
	io.ReaderAt
	Size() int64
	Fd() (uintptr, bool)
	Bytes() ([]byte, bool)
}

// messageFd returns a descriptor holding m: its own file, or an anonymous
// memory file (memfd) with its bytes. done releases what was made for it.
func messageFd(m Message) (fd int, done func(), err error) {
	if f, ok := m.Fd(); ok {
		return int(f), func() {}, nil
	}
	mfd, err := unix.MemfdCreate("outguard-message", unix.MFD_CLOEXEC)
	if err != nil {
		return 0, nil, fmt.Errorf("clamd: memfd: %w", err)
	}
	f := os.NewFile(uintptr(mfd), "memfd")
	if b, ok := m.Bytes(); ok {
		_, err = f.WriteAt(b, 0)
	} else {
		_, err = io.Copy(f, io.NewSectionReader(m, 0, m.Size()))
	}
	if err != nil {
		f.Close()
		return 0, nil, fmt.Errorf("clamd: memfd: %w", err)
	}
	return mfd, func() { f.Close() }, nil
}
