package campaign

import (
	"testing"
)

// TestReviewR4NeverAskedLures (review r4, issue 28 claim 4): neverAsked
// calls a secret's clause "not asked for" when it holds any negation and
// any word starting with a verb of asking, in either order, whatever they
// govern. A lure asking for the password by reply whose clause also says
// "as requested" (or "the requested details") and "won't"/"not" about
// something else (no comma between) is read as a "never ask" notice: the
// notice is cut as boilerplate and the run is never found. Each variant is
// the control lure (found at the 5th, TestReviewR1NoticeLureLanguages'
// "en") with only its asking sentence reworded. Reproduced in Portuguese
// and Spanish ("se não responder com a sua senha pedida": if you do not
// reply with your requested password; never found in 12, the same clause
// without "pedida" at the 5th). The English variants are still found (by
// their reply/send askers), kept as controls.
func TestReviewR4NeverAskedLures(t *testing.T) {
	head := "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours "
	tail := " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
	asks := map[string]string{
		"control":                "unless you reply to this email with your mailbox password.",
		"as requested":           "unless you reply to this email with your mailbox password as requested or you won't be able to send mail.",
		"requested + not":        "and your mail will not be delivered unless you reply with your mailbox password and the requested details.",
		"don't ignore":           "so don't ignore this request and reply to this email with your mailbox password.",
		"ask + not lost":         "so we ask you to reply to this email with your mailbox password so that your mail is not lost.",
		"pt: não + pedida":       "e se não responder com a sua senha pedida a caixa será encerrada.",
		"pt control":             "e se não responder com a sua senha a caixa será encerrada.",
		"es: no + pedida":        "y si no responde con su clave de acceso pedida el buzón será cerrado.",
		"es control":             "y si no responde con su clave de acceso el buzón será cerrado.",
		"send, requested":        "unless you send your mailbox password to this address as requested or you won't be able to send mail.",
		"send control":           "unless you send your mailbox password to this address.",
		"fr: demandons + ne pas": "et nous vous demandons d'envoyer votre mot de passe pour ne pas perdre vos messages.",
		"fr control":             "et vous devez envoyer votre mot de passe pour garder vos messages.",
		"de: bitten + nicht":     "und wir bitten Sie um Ihr Passwort damit Ihr Postfach nicht gesperrt wird.",
		"de control":             "und Sie senden uns Ihr Passwort damit Ihr Postfach offen bleibt.",
	}
	lures := map[string]string{}
	for name, s := range asks {
		lures[name] = head + s + tail
	}
	wantLuresAtFifth(t, lures, "lures asking for the password by reply")
}
