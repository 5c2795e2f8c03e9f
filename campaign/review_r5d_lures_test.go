package campaign

import (
	"testing"
)

// TestReviewR5dNegationElsewhereLures (review r5d, claim 3): with r5b's
// rules gone, neverAsked still reads a negation, "ever" or "no" that
// governs another word as "we never ask": a negation up to 4 words
// before the ask verb whatever it negates ("if you never log in",
// "if no one replies"), up to 2 after it ("we ask you no later than"),
// and since ad45e79 "ever" anywhere after any negation in the clause
// ("not to lose it now or ever we ask": before, "ever" carried only a
// negation right before it, and this lure was found). Each lure asks
// for the mailbox password, in lureAt's notice shape
// (TestReviewR5cSecurityNoticeLures's head and tail); each must be found
// at the 5th account.
func TestReviewR5dNegationElsewhereLures(t *testing.T) {
	head := "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours. "
	tail := " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
	// Each asking sentence names a notice term ("these emails",
	// "subscriber", "update your") so that it is the notice's.
	asks := map[string]string{
		"control":                  "To keep receiving these emails, we request your mailbox password today.",
		"not ... or ever we ask":   "To keep receiving these emails, in order not to lose them now or ever we ask for your mailbox password today.",
		"never logged in, request": "To keep receiving these emails, if you never log in we request your mailbox password today.",
		"no one replies, request":  "As a subscriber, if no one replies we request your mailbox password today.",
		"ask you no later than":    "To update your mailbox, we ask you no later than today for your mailbox password.",
		"request no more than":     "To update your mailbox, we request no more than your mailbox password.",
		"ti chiediamo non oltre":   "Per continuare a ricevere queste email, ti chiediamo non oltre oggi la password della casella.",
	}
	lures := map[string]string{}
	for name, s := range asks {
		lures[name] = head + s + tail
	}
	wantLuresAtFifth(t, lures, "notice-shaped lures asking for the password, a negation elsewhere")
}
