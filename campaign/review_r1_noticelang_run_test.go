package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR1NoticeLureLanguages (review r1, issue 28 claim 4): the
// notice terms now know Spanish, Italian, Dutch, Portuguese and Polish,
// but what keeps a notice-shaped lure the sender's text when it has no
// link ("nothing asking for a password or login details or for a
// reply", asksSecret's secretTerms and replyTerms, spelled.go's reply
// askers) knows English, German and French (and "contraseña"). A
// phishing run written as a notice in those languages, asking for the
// mailbox password by reply (Dutch "wachtwoord", Portuguese "senha",
// Polish "hasło", Italian "credenziali", Spanish "responda ... con su
// usuario y clave"), each copy under 30 random words of its own: the
// notice is cut as boilerplate, never found in 12 accounts. The English
// lure of the same shape is found at the 5th (TestReviewNoticeAsksReply;
// control here).
func TestReviewR1NoticeLureLanguages(t *testing.T) {
	lures := map[string]string{
		"en (control)": "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours unless you reply to this email with your mailbox password. " +
			"Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time.",
		"nl": "Je ontvangt deze e-mail omdat je je hebt aangemeld voor onze maildienst. Je mailbox is vol en wordt binnen 24 uur gesloten, tenzij je deze e-mail beantwoordt met je gebruikersnaam en wachtwoord. " +
			"Copyright 2026 Mail Team, alle rechten voorbehouden. Je kunt je voorkeuren bijwerken of je afmelden voor deze lijst.",
		"pt": "Você está recebendo este e-mail porque se inscreveu no nosso serviço de correio. A sua caixa de correio está cheia e será encerrada em 24 horas se não responder a este e-mail com o seu utilizador e a sua senha. " +
			"Copyright 2026 Mail Team, todos os direitos reservados. Pode atualizar as suas preferências ou cancelar a subscrição desta lista.",
		"pl": "Otrzymujesz ten e-mail, ponieważ zapisałeś się do naszej usługi pocztowej. Twoja skrzynka jest pełna i zostanie zamknięta w ciągu 24 godzin, jeśli nie odpowiesz na ten e-mail, podając login i hasło. " +
			"Copyright 2026 Mail Team, wszelkie prawa zastrzeżone. Możesz zmienić preferencje lub wypisać się z tej listy (subskrypcja).",
		"it": "Ricevi questa email perché ti sei iscritto al nostro servizio di posta. La tua casella è piena e sarà chiusa entro 24 ore se non rispondi a questa email con le tue credenziali di accesso. " +
			"Copyright 2026 Mail Team, tutti i diritti riservati. Puoi aggiornare le tue preferenze o annullare l'iscrizione a questa lista.",
		"es": "Usted está recibiendo este correo porque se suscribió a nuestro servicio de correo. Su buzón está lleno y será cerrado en 24 horas si no responde a este correo con su usuario y su clave de acceso. " +
			"Copyright 2026 Mail Team, todos los derechos reservados. Puede actualizar sus preferencias o darse de baja de esta lista.",
	}
	wantLuresAtFifth(t, lures, "notice-shaped lures asking for the password by reply")
}

// wantLuresAtFifth: the run of each of lures (by name), a plain-text
// mailbox notice under each copy's own 30 words (lureAt), is found at
// the 5th account; the error says what the lures not found are.
func wantLuresAtFifth(t *testing.T, lures map[string]string, what string) {
	t.Helper()
	var missed []string
	for name, lure := range lures {
		at := lureAt(t, 2846, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + lure })
		t.Logf("%s: found at account %d", name, at)
		if at != 5 {
			missed = append(missed, fmt.Sprintf("%s: found at account %d (0: never in 12)", name, at))
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d of %d %s not found at the 5th:\n%s", len(missed), len(lures), what, strings.Join(missed, "\n"))
	}
}
