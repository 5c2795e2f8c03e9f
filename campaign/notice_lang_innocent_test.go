package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestNoticeLureLanguagesInnocent: twelve organisations' own news under
// one shared notice that names a password harmlessly ("we will never
// ask for your password", "do not reply to this email"), in English
// and in the languages whose secret and reply words the notice-lure
// test added (Dutch, Portuguese, Polish, Italian, Spanish), each with
// its own PayPal button or nothing to act on: as innocent as the
// English notice (TestReviewR1NoticeLureLanguages is the lure's side).
// Also what the new words must not see: a Portuguese review
// ("resenha") or drawing ("desenhar") names no "senha", a reply asked
// after a negation asks for none.
func TestNoticeLureLanguagesInnocent(t *testing.T) {
	notices := map[string]string{
		"en": "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. We will never ask for your password by email. " +
			"Please do not reply to this email. You can update your preferences or unsubscribe from this list.",
		"nl": "Copyright 2026 Alle rechten voorbehouden. Je ontvangt deze e-mail omdat je je hebt aangemeld via onze website. Wij vragen je nooit om je wachtwoord. " +
			"Beantwoord deze e-mail niet. Je kunt je voorkeuren bijwerken of je afmelden voor deze lijst.",
		"pt": "Copyright 2026 Todos os direitos reservados. Você está recebendo este e-mail porque se inscreveu no nosso site. Nunca pediremos a sua senha por e-mail. " +
			"Por favor, não responda a este e-mail. Pode atualizar as suas preferências ou cancelar a subscrição desta lista.",
		"pl": "Copyright 2026 Wszelkie prawa zastrzeżone. Otrzymujesz ten e-mail, ponieważ zapisałeś się na naszej stronie. Nigdy nie poprosimy o hasło w wiadomości e-mail. " +
			"Prosimy nie odpowiadać na ten e-mail. Możesz zmienić preferencje lub wypisać się z tej listy (subskrypcja).",
		"it": "Copyright 2026 Tutti i diritti riservati. Ricevi questa email perché ti sei iscritto sul nostro sito web. Non ti chiederemo mai le tue credenziali via email. " +
			"Non rispondere a questa email. Puoi aggiornare le tue preferenze o annullare l'iscrizione a questa lista.",
		"es": "Copyright 2026 Todos los derechos reservados. Usted está recibiendo este correo porque se suscribió en nuestro sitio web. Nunca le pediremos su clave de acceso por correo. " +
			"Por favor, no responda a este correo. Puede actualizar sus preferencias o darse de baja de esta lista.",
	}
	wantNoticesInnocent(t, notices)
	for text, want := range map[string]bool{
		"Leia a nossa resenha do livro.":                      false,
		"Vamos desenhar o cartaz juntos.":                     false,
		"Envie-nos a sua senha.":                              true,
		"Por favor, no responda a este correo.":               false,
		"Responda a este correo con su nombre.":               true,
		"Non rispondere a questa email.":                      false,
		"Rispondi a questa email con il tuo codice.":          true,
		"Não responda a este e-mail.":                         false,
		"Nunca le pediremos su clave de acceso.":              false,
		"We will never ask for your password.":                false,
		"Reply with your password, never share it elsewhere.": true,
		"Odpowiedz na ten e-mail, podając login i hasło.":     true,
		"Je e-mailwachtwoord verloopt: beantwoord deze mail.": true,
	} {
		if got := asksSecret(text); got != want {
			t.Errorf("asksSecret(%q) = %v, want %v", text, got, want)
		}
	}
}

// wantNoticesInnocent: twelve organisations' own news under each of
// notices (by language), with their own PayPal button (payPalNews) or
// nothing to act on, from their own logins and from consumer logins,
// are no campaign (newsletterCampaign).
func wantNoticesInnocent(t *testing.T, notices map[string]string) {
	t.Helper()
	wantNotices(t, notices, false)
}

// wantSentencesInNotices: each of sentences asks for nothing
// (asksSecret) unless campaign, and twelve organisations' own news under
// the usual English notice with it are a campaign as campaign says
// (wantNotices).
func wantSentencesInNotices(t *testing.T, sentences map[string]string, campaign bool) {
	t.Helper()
	const head = "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. "
	const tail = " Please do not reply to this email. You can update your preferences or unsubscribe from this list."
	notices := map[string]string{}
	for k, s := range sentences {
		if !campaign && asksSecret(s) {
			t.Errorf("asksSecret(%q) = true", s)
		}
		notices[k] = head + s + tail
	}
	wantNotices(t, notices, campaign)
}

// wantNotices is wantNoticesInnocent with each variant a campaign or
// not, as campaign says: true pins a known limit (docs/suspension.md).
func wantNotices(t *testing.T, notices map[string]string, campaign bool) {
	t.Helper()
	var held []string
	for lang, notice := range notices {
		for kind, shape := range map[string]func(i int, site, own string) (string, string){
			"own PayPal button": payPalNews(notice),
			"nothing to act on": func(i int, site, own string) (string, string) { return "text/plain", own + "\n\n" + notice },
		} {
			for _, consumer := range []bool{false, true} {
				if newsletterCampaign(t, shape, consumer) != campaign {
					held = append(held, fmt.Sprintf("%s, %s (consumer logins %v)", lang, kind, consumer))
				}
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d variants not as pinned (a campaign: %v):\n%s", len(held), 4*len(notices), campaign, strings.Join(held, "\n"))
	}
}

// payPalNews is organisation i's news: its own text, its own PayPal
// donate button, then notice.
func payPalNews(notice string) func(i int, site, own string) (string, string) {
	return func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nSupport us: https://www.paypal.com/donate/?hosted_button_id=ORG%dX7Q\n\n", i) + notice
	}
}

// namesSecret asks unless the secret's clause says it will not be asked
// for (neverAsked: a negation and a verb of asking in that clause): a
// negation of another verb, or another clause's, asks all the same.
func TestNamesSecretNeverAsked(t *testing.T) {
	for text, want := range map[string]bool{
		"We will never ask you to disclose your password.":           false,
		"We will never ask for your password.":                       false,
		"Wij zullen nooit om uw wachtwoord vragen.":                  false,
		"We vragen nooit naar uw wachtwoord.":                        false,
		"Non ti chiederemo mai di comunicarci le tue credenziali.":   false,
		"Nigdy nie poprosimy Cię o podanie hasła.":                   false,
		"Nunca le pediremos que nos facilite su clave de acceso.":    false,
		"Nunca lhe pediremos a sua senha.":                           false,
		"Para não perder a sua senha, envie-a para nós.":             true,
		"Per non perdere le tue credenziali, inviacele oggi.":        true,
		"Prosimy o podanie hasła, nie zwlekaj.":                      true,
		"Please reply with your password, don't delay.":              true,
		"Do not lose access: send us your password.":                 true,
		"Bitte senden Sie uns Ihr Passwort, nicht vergessen.":        true,
		"Confirm your password today.":                               true,
		"Your account is safe and nothing is needed from you today.": false,
	} {
		if got := namesSecret(strings.ToLower(text)); got != want {
			t.Errorf("%q: asks %v, want %v", text, got, want)
		}
	}
}
