// Package spool keeps a message while it arrives: in memory up to a limit,
// then in an unlinked temporary file, so memory stays bounded and nothing is
// left on disk whatever way the process ends.
package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
)

// Spool is an append-only message buffer. One goroutine may write while
// others read what was already written.
type Spool struct {
	mu     sync.RWMutex
	limit  int64
	dir    string
	budget *Budget // nil: no bound on disk
	mem    []byte
	file   *os.File
	size   int64
}

// New returns a spool that moves to a file in dir (the system default when
// empty) once it holds more than limit bytes.
func New(dir string, limit int64) *Spool {
	return &Spool{dir: dir, limit: limit}
}

// WithBudget makes s take its bytes on disk from b (nil: no bound); call
// it before the first write.
func (s *Spool) WithBudget(b *Budget) *Spool {
	s.budget = b
	return s
}

// Budget bounds the bytes that the spools sharing it keep on disk at once
// (spool.max_total): the write that would pass it fails with ErrBudget,
// and only the message it belongs to is refused; the others go on.
type Budget struct {
	max, used atomic.Int64
}

// ErrBudget is the error of a write past the budget.
var ErrBudget = errors.New("spool.max_total reached: no room for this message on disk")

// NewBudget returns a budget of max bytes (0: no bound).
func NewBudget(max int64) *Budget {
	b := &Budget{}
	b.max.Store(max)
	return b
}

// SetMax changes the bound (a reload); bytes already taken stay taken.
func (b *Budget) SetMax(max int64) { b.max.Store(max) }

func (b *Budget) take(n int64) error {
	if b == nil {
		return nil
	}
	for {
		used, max := b.used.Load(), b.max.Load()
		if max > 0 && used+n > max {
			return &Error{ErrBudget}
		}
		if b.used.CompareAndSwap(used, used+n) {
			return nil
		}
	}
}

func (b *Budget) give(n int64) {
	if b != nil {
		b.used.Add(-n)
	}
}

// CheckDir tells whether dir (the system default when empty) takes a spool
// file: it exists, is a directory, and a file can be made in it.
func CheckDir(dir string) error {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, ".outguard-check-*")
	if err != nil {
		return fmt.Errorf("spool directory unusable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Write appends p.
func (s *Spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil && s.size+int64(len(p)) > s.limit {
		if err := s.toFile(); err != nil {
			return 0, err
		}
	}
	if s.file != nil {
		if err := s.budget.take(int64(len(p))); err != nil {
			return 0, err
		}
		n, err := s.file.WriteAt(p, s.size)
		s.budget.give(int64(len(p) - n))
		s.size += int64(n)
		if err != nil {
			err = &Error{err}
		}
		return n, err
	}
	s.reserve(len(p))
	s.mem = append(s.mem, p...)
	s.size += int64(len(p))
	return len(p), nil
}

// ReadFrom appends what r gives until EOF, read straight into the memory
// buffer (or in large writes to the file): no intermediate copy.
func (s *Spool) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	var chunk []byte // past the memory limit: large writes, few system calls
	defer func() { putBuf(chunk) }()
	for {
		s.mu.Lock()
		inMem := s.file == nil && s.size < s.limit
		var dst []byte
		if inMem {
			s.reserve(min(readSize, int(s.limit-s.size)))
			dst = s.mem[len(s.mem):cap(s.mem)]
			dst = dst[:min(len(dst), int(s.limit-s.size))]
		} else {
			if chunk == nil {
				chunk = getBuf(readSize)
			}
			dst = chunk[:readSize]
		}
		s.mu.Unlock()
		// Outside the lock: r may block. Readers see only mem[:size], never
		// the spare capacity read into here. For the file, the chunk is
		// filled first: one system call per chunk, not per read.
		var n int
		var rerr error
		if inMem {
			n, rerr = r.Read(dst)
		} else {
			n, rerr = io.ReadFull(r, dst)
			if rerr == io.ErrUnexpectedEOF {
				rerr = io.EOF
			}
		}
		if n > 0 {
			if err := s.commit(dst[:n], inMem); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// commit appends p, just read by ReadFrom into mem's spare capacity (inMem)
// or into its own buffer.
func (s *Spool) commit(p []byte, inMem bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inMem {
		s.mem = s.mem[:len(s.mem)+len(p)]
		s.size += int64(len(p))
		return nil
	}
	if s.file == nil {
		if err := s.toFile(); err != nil {
			return err
		}
	}
	if err := s.budget.take(int64(len(p))); err != nil {
		return err
	}
	n, err := s.file.WriteAt(p, s.size)
	s.budget.give(int64(len(p) - n))
	s.size += int64(n)
	if err != nil {
		return &Error{err}
	}
	return nil
}

const readSize = 256 << 10

// reserve makes room in mem for n more bytes, in a buffer from the pool.
func (s *Spool) reserve(n int) {
	if cap(s.mem)-len(s.mem) >= n {
		return
	}
	b := getBuf(max(min(2*cap(s.mem), int(s.limit)), len(s.mem)+n))
	b = append(b, s.mem...)
	putBuf(s.mem)
	s.mem = b
}

// Memory buffers are reused across spools, by power-of-two size class from
// 64 KiB: a message or a decoded part neither grows a slice byte by byte
// nor has fresh memory cleared for it, and the garbage collector sees a
// steady heap.
var classes [16]sync.Pool

const minClass = 16 // 64 KiB

func class(n int) int {
	c := max(bits.Len(uint(n-1)), minClass) - minClass
	return c
}

func getBuf(n int) []byte {
	c := class(n)
	if c >= len(classes) {
		return make([]byte, 0, n)
	}
	if b, ok := classes[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<(c+minClass))
}

func putBuf(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 || class(c) >= len(classes) {
		return // not one of ours
	}
	b = b[:0]
	classes[class(c)].Put(&b)
}

// Error is a failure of the spool itself (our disk), as opposed to the
// reader it copies from.
type Error struct{ Err error }

func (e *Error) Error() string { return "spool: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func (s *Spool) toFile() error {
	if err := s.budget.take(int64(len(s.mem))); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, "outguard-*.msg") // mode 0600
	if err != nil {
		s.budget.give(int64(len(s.mem)))
		return &Error{err}
	}
	// Unlink at once: the open descriptor keeps the data, and a crash or
	// SIGKILL cannot leave customer mail behind in the temp directory.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		s.budget.give(int64(len(s.mem)))
		return &Error{err}
	}
	if _, err := f.Write(s.mem); err != nil {
		f.Close()
		s.budget.give(int64(len(s.mem)))
		return &Error{err}
	}
	putBuf(s.mem)
	s.file, s.mem = f, nil
	return nil
}

// Fd returns the descriptor of the spool file, or false while the spool is
// in memory.
func (s *Spool) Fd() (uintptr, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.file == nil {
		return 0, false
	}
	return s.file.Fd(), true
}

// Bytes returns the spooled bytes while they are in memory; the slice is
// valid until Close (its memory is then reused).
func (s *Spool) Bytes() ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mem, s.file == nil
}

// ReadAt reads the spooled bytes at off.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.file != nil {
		return s.file.ReadAt(p, off)
	}
	return bytes.NewReader(s.mem).ReadAt(p, off)
}

// Size is the number of bytes written.
func (s *Spool) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.size
}

// OnDisk reports whether the spool moved to a file.
func (s *Spool) OnDisk() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.file != nil
}

// Close releases the memory or the file. The spool is empty afterwards.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	putBuf(s.mem)
	size := s.size
	s.mem, s.size = nil, 0
	if s.file == nil {
		return nil
	}
	s.budget.give(size) // every byte in the file was taken
	err := s.file.Close()
	s.file = nil
	return err
}
