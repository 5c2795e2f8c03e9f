// Package worker runs functions on goroutines kept between calls.
//
// milterd's end-of-message checks run deep in SQLite's, YARA's and the
// MIME walker's frames. On a fresh goroutine the stack grows there from
// 8 KiB by copying, message after message (6 % of milterd's CPU in the
// profile of clean 10 KiB mail); a goroutine that ran one keeps its grown
// stack for the next (until a garbage collection finds it mostly unused).
package worker

import "sync/atomic"

// maxIdle bounds the goroutines kept waiting: above it a worker ends.
const maxIdle = 256

var (
	handoff = make(chan func())
	idle    atomic.Int32
)

// Go runs f on a waiting worker, or on a new goroutine that then waits
// for the next function.
func Go(f func()) {
	select {
	case handoff <- f:
	default:
		go work(f)
	}
}

func work(f func()) {
	for {
		f()
		if idle.Add(1) > maxIdle {
			idle.Add(-1)
			return
		}
		f = <-handoff
		idle.Add(-1)
	}
}
