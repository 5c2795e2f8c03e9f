package rules

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// A compile that reports errors while other goroutines allocate (as
// milterd's sessions do during a reload) must not panic: see Compile.
// Without the collector off, go-yara's callback read a freed and reused
// handle within the first few compiles.
func TestCompileWhileAllocating(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yar"), []byte("rule broken { condition: $nope }"), 0o644)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				v := uintptr(0xdeadbeef) // the size of go-yara's handle variable
				allocSink.Store(&v)
			}
		})
	}
	defer wg.Wait()
	defer stop.Store(true)
	for i := range 200 {
		if i%50 == 0 {
			runtime.GC()
		}
		var ce *CompileError
		if _, err := Compile(dir); !errors.As(err, &ce) {
			t.Fatalf("broken rule: %v", err)
		}
	}
}

var allocSink atomic.Pointer[uintptr]
