package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR3NegatedLure (claim 4): a notice-shaped lure asking for the
// mailbox password back, written so the secret's word has a negation
// within the four words before it in its sentence ("so as not to lose
// your password, return it to us today"): namesSecret takes it for "we
// will never ask for your password", the notice is cut as the sender's
// text, and the run (each copy under 30 random words of its own) is
// never found. The two shapes the brief names ("do not ignore this:
// your password…", "never lose access: confirm your password") put the
// negation in another sentence (the colon) and are found: logged.
func TestReviewR3NegatedLure(t *testing.T) {
	head := map[string]string{
		"en": "You are receiving this email because you signed up for our mailbox service. Your mailbox storage is full and will be closed within 24 hours. ",
		"nl": "Je ontvangt deze e-mail omdat je je hebt aangemeld voor onze maildienst. Je mailbox is vol en wordt binnen 24 uur gesloten. ",
		"pt": "Você está recebendo este e-mail porque se inscreveu no nosso serviço de correio. A sua caixa de correio está cheia e será encerrada em 24 horas. ",
		"pl": "Otrzymujesz ten e-mail, ponieważ zapisałeś się do naszej usługi pocztowej. Twoja skrzynka jest pełna i zostanie zamknięta w ciągu 24 godzin. ",
		"it": "Ricevi questa email perché ti sei iscritto al nostro servizio di posta. La tua casella è piena e sarà chiusa entro 24 ore. ",
		"es": "Usted está recibiendo este correo porque se suscribió a nuestro servicio de correo. Su buzón está lleno y será cerrado en 24 horas. ",
	}
	tail := map[string]string{
		"en": " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time.",
		"nl": " Copyright 2026 Mail Team, alle rechten voorbehouden. Je kunt je voorkeuren bijwerken of je afmelden voor deze lijst.",
		"pt": " Copyright 2026 Mail Team, todos os direitos reservados. Pode atualizar as suas preferências ou cancelar a subscrição desta lista.",
		"pl": " Copyright 2026 Mail Team, wszelkie prawa zastrzeżone. Możesz zmienić preferencje lub wypisać się z tej listy (subskrypcja).",
		"it": " Copyright 2026 Mail Team, tutti i diritti riservati. Puoi aggiornare le tue preferenze o annullare l'iscrizione a questa lista.",
		"es": " Copyright 2026 Mail Team, todos los derechos reservados. Puede actualizar sus preferencias o darse de baja de esta lista.",
	}
	negatedAsk := map[string]string{
		"en": "So as not to lose your password, return it to us by email today.",
		"nl": "Om niet uw wachtwoord te verliezen, stuur het vandaag per e-mail naar ons terug.",
		"pt": "Para não perder a sua senha, envie-a hoje de volta para nós por e-mail.",
		"pl": "Aby nie stracić hasła, prześlij je nam dzisiaj e-mailem.",
		"it": "Per non perdere le tue credenziali, inviacele oggi stesso via email.",
		"es": "Para no perder su clave de acceso, envíenosla hoy mismo por correo.",
	}
	lures := map[string]string{}
	for lang, ask := range negatedAsk {
		lures[fmt.Sprintf("%s %q", lang, ask)] = head[lang] + ask + tail[lang]
	}
	wantLuresAtFifth(t, lures, "notice-shaped lures asking for the password back with a negation before it")
	for _, ask := range []string{"Do not ignore this: your password must be confirmed by return email today.", "Never lose access: confirm your password by return email today."} {
		at := lureAt(t, 2846, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + head["en"] + ask + tail["en"] })
		t.Logf("brief's shape %q: found at account %d", ask, at)
	}
}
