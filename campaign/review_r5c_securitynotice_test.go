package campaign

import (
	"testing"
)

// TestReviewR5cSecurityNoticeLures (review r5c, claim 1): since 53cbfff a
// sentence naming a secret that neverAsked reads as "asks for none" is
// part of the shared notice (securityNotice). neverAsked's new rules
// read lures as notices: a "nobody"/"no one" subject up to 8 words before
// ANY ask verb (whatever the verb's subject), a negated send verb
// ("don't contact us", "don't email us") before any later ask verb, a
// give verb with a negation within 2 words (either side) whatever it
// governs, and the older "negation up to 4 words before the ask verb"
// ("if not confirmed we request"). Each lure below asks for the mailbox
// password with no reply term, in lureAt's notice shape (as
// TestReviewR4NeverAskedLures), the asking sentence standalone or after
// the notice's "As a subscriber" sentence; each must be found at the
// 5th account.
func TestReviewR5cSecurityNoticeLures(t *testing.T) {
	head := "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours. "
	tail := " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
	asks := map[string]string{
		"control":                  "To keep it we request your mailbox password today.",
		"nobody unless we ask":     "Nobody will be able to help unless we ask you for your mailbox password today.",
		"no one else so we ask":    "There is no one else who can stop this so we request your mailbox password today.",
		"don't contact, request":   "If you do not contact us today we request your mailbox password to keep it open.",
		"don't email us, asking":   "Do not email us asking why and send your mailbox password today.",
		"don't give up + send":     "Do not give up your mailbox and send us your mailbox password today.",
		"never share except us":    "Never share your mailbox password with anyone except this team by sending it to us today.",
		"give no delay":            "Kindly give no delay and send us your mailbox password today.",
		"if not confirmed request": "If not confirmed today we request your mailbox password to keep it open.",
		"de niemand bitten":        "Niemand außer Ihnen kann das verhindern daher bitten wir Sie um Ihr Passwort.",
		"es nadie pedimos":         "Nadie más puede evitarlo por eso le pedimos su clave de acceso hoy.",
		"pl nikt prosimy":          "Nikt inny tego nie naprawi dlatego prosimy o podanie hasła dzisiaj.",
		"it nessuno chiediamo":     "Nessuno può evitarlo quindi ti chiediamo le tue credenziali oggi.",
	}
	lures := map[string]string{}
	for name, s := range asks {
		lures[name] = head + s + tail
	}
	wantLuresAtFifth(t, lures, "security-notice-shaped lures asking for the password")
}
