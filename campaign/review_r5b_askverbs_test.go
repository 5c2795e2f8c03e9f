package campaign

import (
	"testing"
)

// TestReviewR5bNeverEverNoticesInnocent: the usual security sentences of
// a newsletter footer in wordings neverAsked does not read as "we never
// ask": "never, ever ask" (the comma ends the clause, "ever" then has no
// negation before it), "never share your password" (a negation, no
// ask verb), "never send you an email asking" (verb 5 words after).
// Twelve organisations under each are a campaign; the control (the
// shipped test's "We will never ask for your password by email.") is
// none.
func TestReviewR5bNeverEverNoticesInnocent(t *testing.T) {
	en := func(s string) string {
		return "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. " + s +
			" Please do not reply to this email. You can update your preferences or unsubscribe from this list."
	}
	wantNoticesInnocent(t, map[string]string{
		"control":         en("We will never ask for your password by email."),
		"never, ever ask": en("We will never, ever ask for your password by email."),
	})
	// Known, pinned: the rules that made these none let lures ask for
	// nothing (review r5c, TestReviewR5cSecurityNoticeLures).
	wantNotices(t, map[string]string{
		"never share":            en("Never share your password with anyone, not even with us."),
		"no one will ask, ever":  en("No one from our team will ask for your password, ever."),
		"never email you asking": en("We will never send you an email asking for your password."),
	}, true)
	for text, want := range map[string]bool{
		"We will never, ever ask for your password.":                false,
		"Never share your password with anyone.":                    true,
		"We will never send you an email asking for your password.": true,
	} {
		if got := asksSecret(text); got != want {
			t.Errorf("asksSecret(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestReviewR5bEverCarriesNegation: "ever" after a negation moves the
// negation to "ever" (review r5a's "no legitimate bank … will ever
// ask"); a lure putting "ever" between another verb's negation and its
// ask ("if you do not want to lose access now or ever we ask you for
// your mailbox password") read as "we never ask" (review r5b; review
// r5d: with the sentence in the notice, never found). A subject of its
// own ("we") after the negation starts another clause: it asks.
func TestReviewR5bEverCarriesNegation(t *testing.T) {
	for _, s := range []string{
		"If you do not want to lose access now or ever we ask you for your mailbox password today.",
		"If you do not want to lose access now or ever we request your mailbox password today.",
		"If you don't wish to lose any messages ever again we ask you for your password.",
	} {
		if !asksSecret(s) {
			t.Errorf("asksSecret(%q) = false: a request for the password read as 'we never ask'", s)
		}
	}
	if !asksSecret("If you do not want to lose access now or later we ask you for your mailbox password today.") {
		t.Errorf("control not asking")
	}
	wantLuresAtFifth(t, map[string]string{
		"now or ever": "You are receiving this email because you signed up for our mailbox service. Your mailbox storage is full. " +
			"If you do not want to lose access now or ever we ask you for your mailbox password today. " +
			"Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time.",
	}, "lures with 'ever'")
}
