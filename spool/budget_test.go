package spool

import (
	"bytes"
	"errors"
	"testing"
)

// Spools sharing a budget: the write that would pass it fails with
// ErrBudget for its spool alone; what a spool took comes back at Close.
func TestBudget(t *testing.T) {
	b := NewBudget(3000)
	dir := t.TempDir()
	a := New(dir, 100).WithBudget(b)
	if _, err := a.Write(bytes.Repeat([]byte("a"), 2000)); err != nil {
		t.Fatal(err)
	}
	c := New(dir, 100).WithBudget(b)
	if _, err := c.Write(bytes.Repeat([]byte("c"), 50)); err != nil {
		t.Fatalf("within memory_limit, no disk taken: %v", err)
	}
	_, err := c.Write(bytes.Repeat([]byte("c"), 1000))
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("a write past the budget: %v, want ErrBudget", err)
	}
	if _, err := a.Write(bytes.Repeat([]byte("a"), 900)); err != nil {
		t.Fatalf("the other spool, within the budget: %v", err)
	}
	a.Close()
	// c keeps its 50 bytes, on disk since its refused write.
	d := New(dir, 100).WithBudget(b)
	if _, err := d.Write(bytes.Repeat([]byte("d"), 2950)); err != nil {
		t.Fatalf("after Close gave its bytes back: %v", err)
	}
	if _, err := d.Write([]byte("x")); !errors.Is(err, ErrBudget) {
		t.Fatalf("one byte past: %v", err)
	}
	d.Close()
	c.Close()
	if u := b.used.Load(); u != 0 {
		t.Errorf("%d bytes still taken after every spool closed", u)
	}
}
