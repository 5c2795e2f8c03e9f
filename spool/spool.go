// Package spool keeps a message while it arrives: in memory up to a limit,
// then in an unlinked temporary file, so memory stays bounded and nothing is
// left on disk whatever way the process ends.
package spool

import (
	"bytes"
	"os"
	"sync"
)

// Spool is an append-only message buffer. One goroutine may write while
// others read what was already written.
type Spool struct {
	mu    sync.RWMutex
	limit int64
	dir   string
	mem   []byte
	file  *os.File
	size  int64
}

// New returns a spool that moves to a file in dir (the system default when
// empty) once it holds more than limit bytes.
func New(dir string, limit int64) *Spool {
	return &Spool{dir: dir, limit: limit}
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
		n, err := s.file.WriteAt(p, s.size)
		s.size += int64(n)
		if err != nil {
			err = &Error{err}
		}
		return n, err
	}
	s.mem = append(s.mem, p...)
	s.size += int64(len(p))
	return len(p), nil
}

// Error is a failure of the spool itself (our disk), as opposed to the
// reader it copies from.
type Error struct{ Err error }

func (e *Error) Error() string { return "spool: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func (s *Spool) toFile() error {
	f, err := os.CreateTemp(s.dir, "outguard-*.msg") // mode 0600
	if err != nil {
		return &Error{err}
	}
	// Unlink at once: the open descriptor keeps the data, and a crash or
	// SIGKILL cannot leave customer mail behind in the temp directory.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return &Error{err}
	}
	if _, err := f.Write(s.mem); err != nil {
		f.Close()
		return &Error{err}
	}
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

// Bytes returns the spooled bytes while they are in memory.
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
	s.mem, s.size = nil, 0
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
