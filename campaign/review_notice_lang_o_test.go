package campaign

import (
	"testing"
)

// TestReviewNoticeMoreLanguages (reviewer ro, issue 28 claim 1, "the
// notice in another language"): Mailchimp's default footer in Spanish,
// Italian and Dutch under twelve organisations' own news (their own
// PayPal button, as pageShapes; or nothing to act on): no campaign, as
// with the English, German and French notices. The terms that cut a
// notice (normalize.go boilerplateTerms) know English, German and
// French only: the notice stays text, twelve organisations are a
// campaign and suspended.
func TestReviewNoticeMoreLanguages(t *testing.T) {
	notices := map[string]string{
		"es": "Copyright © 2026 Todos los derechos reservados. Usted está recibiendo este correo electrónico porque se suscribió en nuestro sitio web. " +
			"Nuestra dirección postal está en nuestro sitio web. ¿Quiere cambiar la forma en que recibe estos correos electrónicos? Puede actualizar sus preferencias o darse de baja de esta lista.",
		"it": "Copyright © 2026 Tutti i diritti riservati. Ricevi questa email perché ti sei iscritto sul nostro sito web o a uno dei nostri eventi. " +
			"Il nostro indirizzo postale è sul nostro sito web. Vuoi cambiare il modo in cui ricevi queste email? Puoi aggiornare le tue preferenze o annullare l'iscrizione a questa lista.",
		"nl": "Copyright © 2026 Alle rechten voorbehouden. Je ontvangt deze e-mail omdat je je hebt aangemeld via onze website of op een van onze evenementen. " +
			"Ons postadres staat op onze website. Wil je wijzigen hoe je deze e-mails ontvangt? Je kunt je voorkeuren bijwerken of je afmelden voor deze lijst.",
	}
	wantNoticesInnocent(t, notices)
}
