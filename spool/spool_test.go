package spool

import (
	"bytes"
	"io"
	"os"
	"testing"
)

func TestSpoolMovesToUnlinkedFile(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, 10)
	want := []byte("0123456789abcdefghij")
	if _, err := s.Write(want[:8]); err != nil {
		t.Fatal(err)
	}
	if s.OnDisk() {
		t.Fatal("spool went to disk below its limit")
	}
	if _, err := s.Write(want[8:]); err != nil {
		t.Fatal(err)
	}
	if !s.OnDisk() {
		t.Fatal("spool stayed in memory above its limit")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spool left %d files in %s; want them unlinked", len(ents), dir)
	}
	got, err := io.ReadAll(io.NewSectionReader(s, 0, s.Size()))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %q, %v; want %q", got, err, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Size() != 0 {
		t.Fatal("closed spool keeps its size")
	}
}

func TestSpoolInMemory(t *testing.T) {
	s := New(t.TempDir(), 1<<20)
	s.Write([]byte("hello "))
	s.Write([]byte("world"))
	got, _ := io.ReadAll(io.NewSectionReader(s, 0, s.Size()))
	if string(got) != "hello world" || s.OnDisk() {
		t.Fatalf("got %q on disk=%v", got, s.OnDisk())
	}
}

func TestSpoolBadDir(t *testing.T) {
	s := New("/nonexistent/outguard", 1)
	if _, err := s.Write([]byte("xy")); err == nil {
		t.Fatal("write to a spool in a missing directory succeeded")
	}
}

// ReadFrom keeps exactly limit bytes in memory, moves to the file past it,
// and reads back what was written either way.
func TestSpoolReadFrom(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, c := range []struct {
		n      int
		onDisk bool
	}{{0, false}, {1 << 20, false}, {1<<20 + 1, true}, {3 << 20, true}} {
		s := New(t.TempDir(), 1<<20)
		// iotest.OneByteReader would be slow: a reader of odd-sized pieces.
		n, err := s.ReadFrom(&pieces{data: data[:c.n]})
		if err != nil || n != int64(c.n) || s.OnDisk() != c.onDisk {
			t.Fatalf("%d bytes: read %d, %v, on disk %v; want on disk %v", c.n, n, err, s.OnDisk(), c.onDisk)
		}
		got, _ := io.ReadAll(io.NewSectionReader(s, 0, s.Size()))
		if !bytes.Equal(got, data[:c.n]) {
			t.Fatalf("%d bytes: read back differs", c.n)
		}
		s.Close()
	}
}

type pieces struct {
	data []byte
	i    int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	p.i++
	n := min(len(b), len(p.data), 1000+p.i*37)
	copy(b, p.data[:n])
	p.data = p.data[n:]
	return n, nil
}
