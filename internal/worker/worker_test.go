package worker

import (
	"runtime"
	"sync"
	"testing"
)

// Every function runs, concurrently, and the goroutines that ran them are
// reused: a second round of calls starts no new goroutine.
func TestGoReusesGoroutines(t *testing.T) {
	round := func(n int) {
		var started, release sync.WaitGroup
		started.Add(n)
		release.Add(1)
		var done sync.WaitGroup
		done.Add(n)
		for range n {
			Go(func() {
				started.Done()
				release.Wait() // all n at once: none can take another's turn
				done.Done()
			})
		}
		started.Wait()
		release.Done()
		done.Wait()
	}
	round(20)
	for idle.Load() < 20 { // the workers park after done.Done
		runtime.Gosched()
	}
	before := runtime.NumGoroutine()
	round(20)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after the second round, %d before: workers not reused", after, before)
	}
}
