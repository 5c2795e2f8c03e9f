package e2e

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"outguard/internal/harness"
	"outguard/quarantine"
)

// Helpers more than one topic's tests use.

const eicar = harness.EICAR

// random returns n random bytes: a body no compression or signature
// shortcut applies to.
func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// subject is a message's Subject as the tests write it (one line).
func subject(data []byte) string {
	_, rest, _ := strings.Cut(string(data), "Subject: ")
	s, _, _ := strings.Cut(rest, "\r\n")
	return s
}

// heldSubjects counts the quarantine's entries by their message's
// Subject, and returns how many entries it has; an entry whose message
// cannot be read fails the test.
func heldSubjects(t *testing.T, q *quarantine.Store) (map[string]int, int) {
	t.Helper()
	ctx := context.Background()
	recs, err := q.List(ctx, quarantine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	for _, rec := range recs {
		data, _, err := q.Message(ctx, rec.ID)
		if err != nil {
			t.Errorf("entry %s: %v", rec.ID, err)
			continue
		}
		held[subject(data)]++
	}
	return held, len(recs)
}
