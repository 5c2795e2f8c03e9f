package milter

import (
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"
)

// feeder copies the spool to the pipeline's streams in a goroutine of its
// own, so that engines read the message while it arrives and a slow engine
// does not hold up the MTA's next body chunk. The spool is the only buffer:
// memory stays bounded whatever the engines' pace.
type feeder struct {
	srv    *Server
	t      *txn
	more   chan struct{} // the spool grew
	ending atomic.Bool   // end-of-message: copy what is left, then stop
	done   chan struct{}
	err    error // reading the spool failed; read after done
}

func startFeeder(srv *Server, t *txn) *feeder {
	f := &feeder{srv: srv, t: t, more: make(chan struct{}, 1), done: make(chan struct{})}
	go f.run()
	return f
}

func (f *feeder) run() {
	defer close(f.done)
	defer func() {
		// An engine that panics on the stream fails this message, not milterd.
		if r := recover(); r != nil {
			f.srv.panicked(r, debug.Stack())
			f.err = fmt.Errorf("panic in the streams: %v", r)
		}
	}()
	buf := make([]byte, 64<<10)
	var off int64
	for {
		for size := f.t.spool.Size(); off < size; {
			n, err := f.t.spool.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
			f.t.st.Pipeline.Write(&f.t.Transaction, buf[:n])
			off += int64(n)
			if err != nil && err != io.EOF {
				f.err = err
				return
			}
		}
		if f.ending.Load() && off == f.t.spool.Size() {
			return
		}
		select {
		case <-f.more:
		case <-f.t.ctx.Done():
			return
		}
	}
}

// kick tells the feeder the spool grew. Safe on a nil feeder (no streams
// yet: before end-of-headers).
func (f *feeder) kick() {
	if f == nil {
		return
	}
	select {
	case f.more <- struct{}{}:
	default:
	}
}

// finish waits until the streams have the whole message.
func (f *feeder) finish() error {
	if f == nil {
		return nil
	}
	f.ending.Store(true)
	f.kick()
	<-f.done
	return f.err
}

// wait waits for the feeder to stop; the transaction's context must be
// cancelled or finish called first.
func (f *feeder) wait() {
	if f != nil {
		<-f.done
	}
}
