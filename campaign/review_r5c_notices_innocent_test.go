package campaign

import (
	"testing"
)

// TestReviewR5cSecurityNoticesInnocent (review r5c, claim 2): the usual
// "never give your password away" sentences of organisations' footers,
// in wordings the new giveVerbs / sendVerbs / nobodies do not cover
// (another give verb, the negation after the object in Dutch and German
// word order, a negation not right before the send verb, "no
// legitimate bank ... will ever ask", a negation between commas), still
// read as asking: twelve organisations' own news under each is a
// campaign. Control: the shipped "We will never ask for your password by
// email." Those rules were taken out again (they let lures ask for
// nothing, TestReviewR5cSecurityNoticeLures); "never tell" and "no
// legitimate bank … will ever ask" are none, the nine others are a
// known limit, pinned (docs/suspension.md).
func TestReviewR5cSecurityNoticesInnocent(t *testing.T) {
	wrap := func(s string) string {
		return "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. " + s +
			" Please do not reply to this email. You can update your preferences or unsubscribe from this list."
	}
	innocent := map[string]string{
		"control":          wrap("We will never ask for your password by email."),
		"en never tell":    wrap("Never tell anyone your password."),
		"en no legitimate": wrap("No legitimate bank or service will ever ask for your password."),
	}
	known := map[string]string{
		"en call or email you": wrap("We'll never call you or email you to ask for your password."),
		"en under any":         wrap("Never, under any circumstances, share your password."),
		"de niemals weiter":    wrap("Geben Sie Ihr Passwort niemals weiter."),
		"fr divulguez":         wrap("Ne divulguez jamais votre mot de passe."),
		"es facilite":          wrap("Nunca facilite su contraseña a terceros."),
		"pt forneça":           wrap("Nunca forneça a sua senha a ninguém."),
		"it fornire":           wrap("Non fornire mai la tua password a nessuno."),
		"nl deel nooit":        wrap("Deel uw wachtwoord nooit met anderen."),
		"pl przekazuj":         wrap("Nigdy nie przekazuj hasła osobom trzecim."),
	}
	wantNotices(t, innocent, false)
	wantNotices(t, known, true)
}
