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
