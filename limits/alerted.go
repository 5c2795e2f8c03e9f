package limits

import (
	"sync"
	"time"
)

// maxAlerted bounds the windows an Engine remembers having claimed: one
// per account and limit over it, so a storm of accounts (ip: keys of a
// botnet) would otherwise grow the set without end.
const maxAlerted = 4096

// alertedSet is the windows (account and limit -> end) whose alert this
// process has claimed. It only spares the store a claim per refused
// message: an entry forgotten costs one more claim, which the store
// answers "already sent" (FireOnce), never a second alert.
type alertedSet struct {
	mu  sync.Mutex
	end map[string]time.Time
}

// claim reports whether the window of key ending at until is new to this
// process at now (none remembered, or the one remembered has ended), and
// remembers it. When full it forgets the ended windows first, then, if
// the set is still full, arbitrary ones down to three quarters, so that
// a full set costs one sweep per quarter of it, not one per message.
func (s *alertedSet) claim(key string, until, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.end[key]; ok && prev.After(now) {
		s.end[key] = until
		return false
	}
	if s.end == nil {
		s.end = map[string]time.Time{}
	}
	if _, ok := s.end[key]; !ok && len(s.end) >= maxAlerted {
		for k, end := range s.end {
			if !end.After(now) {
				delete(s.end, k)
			}
		}
		for k := range s.end {
			if len(s.end) < maxAlerted*3/4 {
				break
			}
			delete(s.end, k)
		}
	}
	s.end[key] = until
	return true
}

// len is how many windows the set remembers.
func (s *alertedSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.end)
}

// forget drops key: its claim did not take (the store failed).
func (s *alertedSet) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.end, key)
}
