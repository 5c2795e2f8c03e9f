//go:build race

package campaign

// raceBuild: the ham measurements run at full size without the race
// detector (make test runs this package without it, but for the seed);
// under it (ten times slower, and the measurement is one goroutine), as a
// developer may run ./..., a smaller corpus.
const raceBuild = true
