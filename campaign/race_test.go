//go:build race

package campaign

// raceBuild: the ham measurements run at full size once without the race
// detector (make test's second pass); under it (ten times slower, and
// the measurement is one goroutine) a smaller corpus still exercises
// the code for races.
const raceBuild = true
