package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR5aAskPrefixLures (review r5a, claim 2b): neverAsked takes
// any word starting with an ask verb's stem (askVerbs) for a verb of
// asking, so a lure whose secret's clause negates another verb next to a
// noun that merely begins with a stem ("pedido": an order, pt/es;
// "Fragebogen": a questionnaire; "solicitor"; "pedicure") reads as "we
// will never ask for your password": the notice is cut as boilerplate
// and the run is not found. Each lure is the control notice of
// TestReviewR4NeverAskedLures with its asking sentence reworded; each
// control (the same sentence with the noun replaced by a word that is no
// stem) must be found at the 5th account, and so must the lure.
func TestReviewR5aAskPrefixLures(t *testing.T) {
	head := "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours "
	tail := " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
	lures := map[string]string{
		"pt: não + pedido":       "e para não perder o seu pedido envie a sua senha hoje.",
		"pt control (encomenda)": "e para não perder a sua encomenda envie a sua senha hoje.",
		"es: no + pedido":        "y para no perder su pedido envíe su contraseña hoy.",
		"es control (compra)":    "y para no perder su compra envíe su contraseña hoy.",
		"de: Fragebogen + nicht": "und damit Ihr Fragebogen nicht verfällt senden Sie uns Ihr Passwort.",
		"de control (Antrag)":    "und damit Ihr Antrag nicht verfällt senden Sie uns Ihr Passwort.",
		"en: solicitor + not":    "and our solicitor will not release the funds until you send your mailbox password.",
		"en control (lawyer)":    "and our lawyer will not release the funds until you send your mailbox password.",
		"en: not + pedicure":     "so to not miss your pedicure voucher confirm your mailbox password.",
		"en control (spa)":       "so to not miss your spa voucher confirm your mailbox password.",
	}
	var missed []string
	for name, s := range lures {
		lure := head + s + tail
		at := lureAt(t, 2846, plainSubject, "text/plain; charset=utf-8", func(i int, own string) string { return own + "\n\n" + lure })
		t.Logf("%s: found at account %d", name, at)
		if at != 5 {
			missed = append(missed, fmt.Sprintf("%s: found at account %d (0: never in 12)", name, at))
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d of %d lures asking for the password not found at the 5th:\n%s", len(missed), len(lures), strings.Join(missed, "\n"))
	}
}

// TestReviewR5aNeverAskNoticesInnocent (review r5a, claim 2a): twelve
// organisations' own news under one shared notice that says the usual
// "we will never ask for your password" in wording neverAsked does not
// take for a negated ask (Polish "pytać" and "prośba", which the stems
// "prosi"/"prosz" do not cover; Spanish "jamás"; "no one ... will ever
// ask"; the negation five words before the verb), as
// TestNoticeLureLanguagesInnocent with its "nothing to act on" shape.
// Each should be no campaign; the controls (the test's own en/pl
// sentences, and the Polish bank sentence with "proszą" for "pytają")
// are none. Fixed since: "pytać", "prośba", "domandare", "jamás", "ever"
// after a negation, "e-mails" one word. Known, pinned (a campaign
// still): the two whose asking sentence names no notice term (it ends
// the notice, and what is left shared is one text: "nunca le enviaremos
// este correo solicitando…", with the term, is none). Review r5b's rules
// for them (a negated verb of sending, a secret's sentence part of the
// notice) let lures ask for nothing (review r5c,
// TestReviewR5cSecurityNoticeLures) and were taken out.
func TestReviewR5aNeverAskNoticesInnocent(t *testing.T) {
	notice := func(lang, sentence string) string {
		switch lang {
		case "pl":
			return "Copyright 2026 Wszelkie prawa zastrzeżone. Otrzymujesz ten e-mail, ponieważ zapisałeś się na naszej stronie. " + sentence +
				" Prosimy nie odpowiadać na ten e-mail. Możesz zmienić preferencje lub wypisać się z tej listy (subskrypcja)."
		case "es":
			return "Copyright 2026 Todos los derechos reservados. Usted está recibiendo este correo porque se suscribió en nuestro sitio web. " + sentence +
				" Por favor, no responda a este correo. Puede actualizar sus preferencias o darse de baja de esta lista."
		case "pt":
			return "Copyright 2026 Todos os direitos reservados. Você está recebendo este e-mail porque se inscreveu no nosso site. " + sentence +
				" Por favor, não responda a este e-mail. Pode atualizar as suas preferências ou cancelar a subscrição desta lista."
		case "it":
			return "Copyright 2026 Tutti i diritti riservati. Ricevi questa email perché ti sei iscritto sul nostro sito web. " + sentence +
				" Non rispondere a questa email. Puoi aggiornare le tue preferenze o annullare l'iscrizione a questa lista."
		}
		return "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. " + sentence +
			" Please do not reply to this email. You can update your preferences or unsubscribe from this list."
	}
	cases := []struct {
		lang, sentence string
		known          bool
	}{
		{"pl", "Nigdy nie poprosimy o hasło w wiadomości e-mail.", false}, // control (the test's own)
		{"pl", "Nigdy nie pytamy o hasło w wiadomości e-mail.", false},
		{"pl", "Nigdy nie wysyłamy wiadomości z prośbą o podanie hasła.", false},
		{"pl", "Pamiętaj: nasz bank nigdy nie wysyła wiadomości e-mail z prośbą o podanie hasła, numeru karty ani kodów SMS.", true},
		{"pl", "Nasi pracownicy nigdy nie pytają klientów o hasło do bankowości internetowej ani o kody SMS.", false},
		{"pl", "Nasi pracownicy nigdy nie pytają klientów o hasło do bankowości internetowej ani do skrzynki pocztowej.", false},
		{"pl", "Nasi pracownicy nigdy nie proszą klientów o hasło do bankowości internetowej ani do skrzynki pocztowej.", false}, // control: proszą
		{"es", "Jamás le pediremos su clave de acceso por correo.", false},
		{"es", "Nunca le enviaremos un correo electrónico solicitando su clave de acceso.", true},
		{"pt", "Nunca enviamos e-mails a pedir a sua senha.", false},
		{"it", "Non ti domanderemo mai la password via email.", false},
		{"en", "We will never ask for your password by email.", false}, // control
		{"en", "No one from our team will ever ask for your password.", false},
	}
	var held []string
	for _, c := range cases {
		n := notice(c.lang, c.sentence)
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, func(i int, site, own string) (string, string) { return "text/plain", own + "\n\n" + n }, consumer) != c.known {
				held = append(held, fmt.Sprintf("%s %q (consumer logins %v): campaign %v", c.lang, c.sentence, consumer, !c.known))
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d innocent notices not as pinned (12 organisations, own news each):\n%s", len(held), 2*len(cases), strings.Join(held, "\n"))
	}
}
