package campaign

import (
	"log/slog"
	"time"
)

var discard = slog.New(slog.DiscardHandler)

// SetSeedClock moves s's clock (SeedRecheck), for tests outside the
// package (those needing the harness, which imports it).
func SetSeedClock(s *SeedSource, now func() time.Time) { s.now = now }

// CountingSeeds is countingSeeds, for tests outside the package.
type CountingSeeds = countingSeeds

// Reads is how many times the store was asked for the seed.
func (c *countingSeeds) Reads() int32 { return c.n.Load() }

// Transaction is transaction, for tests outside the package.
var Transaction = transaction
