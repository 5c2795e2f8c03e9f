package campaign

import (
	"testing"
)

// TestReviewR5fConditionNoticesInnocent (review r5f, claim 1): ccbfbbf's
// conditions ("als", "para", "per", "if", "se", …) open a condition or a
// purpose anywhere in the clause, and after one a negation is reset by
// any non-ask word 2 words past it. But "als" is Dutch's "as", "para"
// and "per" open "for your security"/"as per our policy", "se" is
// Spanish's and Portuguese's reflexive pronoun, and an innocent notice's
// negation often stands 2+ words before its verb ("nunca le vamos a
// pedir", "will not at any time ask", "nooit naar uw wachtwoord
// vragen"). Each sentence below is "we will never ask for your password"
// and now asks for it: twelve organisations under the notice are a
// campaign. Each control (the same sentence without its condition word)
// asks for nothing, and each sentence asked for nothing before ccbfbbf.
func TestReviewR5fConditionNoticesInnocent(t *testing.T) {
	head := "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. "
	tail := " Please do not reply to this email. You can update your preferences or unsubscribe from this list."
	sentences := map[string]string{
		"nl als bank":           "Als bank zal de Spaarbank u nooit naar uw wachtwoord vragen.",
		"nl als uw bank":        "Als uw bank zal de Spaarbank nooit uw wachtwoord vragen.",
		"es para su seguridad":  "Para su seguridad nunca le vamos a pedir su contraseña.",
		"es se la pediremos":    "Su contraseña nunca se la pediremos por correo electrónico.",
		"pt para sua segurança": "Para sua segurança nunca lhe vamos pedir a sua senha.",
		"pt o banco nunca lhe":  "Para sua segurança o banco nunca lhe irá pedir a sua senha.",
		"en if in doubt":        "If in doubt remember that our staff will not at any time ask for your password.",
		"en if in doubt never":  "If in doubt remember that Acme will never under any circumstances ask for your password.",
		"en as per our policy":  "As per our policy Acme staff will not under any circumstances ask for your password.",
	}
	controls := map[string]string{
		"nl": "Wij zullen u nooit naar uw wachtwoord vragen.",
		"es": "Nunca le vamos a pedir su contraseña.",
		"pt": "Nunca lhe vamos pedir a sua senha.",
		"en": "Our staff will not at any time ask for your password.",
	}
	for k, s := range controls {
		if asksSecret(s) {
			t.Errorf("control %s: asksSecret(%q) = true", k, s)
		}
	}
	notices := map[string]string{}
	for k, s := range sentences {
		if asksSecret(s) {
			t.Errorf("asksSecret(%q) = true", s)
		}
		notices[k] = head + s + tail
	}
	wantNoticesInnocent(t, notices)
}

// TestReviewR5fNoNegationWordNoticesInnocent (review r5f, claim 1, not
// from ccbfbbf): Italian "nessun"/"nessuno" and German verb-last are no
// negation of the ask verb: "Per nessun motivo ti chiederemo la
// password" (for no reason will we ask you for your password), "In
// nessun caso…", "Nessuno del nostro staff ti chiederà…", "Nie werden
// wir Sie nach Ihrem Passwort fragen" (verb 6 words after "nie") ask
// for the password; twelve organisations under the notice a campaign.
func TestReviewR5fNoNegationWordNoticesInnocent(t *testing.T) {
	// Mended: "nessun" is a negation. Known, pinned (campaigns still):
	// the verb 5 or more words after it.
	sentences := map[string]string{
		"it per nessun motivo": "Per nessun motivo ti chiederemo la password.",
		"it in nessun caso":    "In nessun caso ti chiederemo la password.",
	}
	known := map[string]string{
		"it nessuno":        "Nessuno del nostro staff ti chiederà la password.",
		"de nie werden wir": "Nie werden wir Sie nach Ihrem Passwort fragen.",
		"de niemals per":    "Die Bank wird Sie niemals per E-Mail nach Ihrem Passwort fragen.",
	}
	wantSentencesInNotices(t, sentences, false)
	wantSentencesInNotices(t, known, true)
}

// TestReviewR5fAskNotToLures (review r5f, claim 2): an ask verb with a
// negation up to 2 words after it is "we never ask" (neverAsked), but
// "we ask you not to ignore this and reply with your password" is the
// commonest urgency line of a lure: "nous vous demandons de ne pas
// ignorer…", "vi chiediamo di non ignorare…", "le pedimos no ignorar…",
// "prosimy nie ignorować…", "wir bitten Sie nicht zu zögern…". And
// without a condition a negation 4 words before the verb still governs
// it: "Don't lose access we request your password", "Verlieren Sie
// nicht den Zugang wir bitten um Ihr Passwort". Each asks for the
// mailbox password and is read as asking for nothing (asksSecret false
// for every one). Where the notice's footer is cut (the r5e shape, "To
// keep receiving these emails, …" under an English mailbox notice, and
// Italian) the run is never found in 12: en, es, pt, fr, it; the same
// lure without the negation ("en r5e control") is found at the 5th.
// The other variants are found at the 5th all the same (their footer is
// not cut), kept as controls.
func TestReviewR5fAskNotToLures(t *testing.T) {
	head := "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours. "
	tail := " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
	asks := map[string]string{
		"fr demandons de ne pas": "Nous vous demandons de ne pas ignorer ce message et de répondre avec votre mot de passe aujourd'hui.",
		"it chiediamo di non":    "Vi chiediamo di non ignorare questa email e di rispondere con la password della casella oggi.",
		"es pedimos no ignorar":  "Le pedimos no ignorar este mensaje y responder con la contraseña del buzón hoy.",
		"pl prosimy nie":         "Prosimy nie ignorować tej wiadomości i podać hasło do skrzynki dzisiaj.",
		"de bitten nicht zu":     "Wir bitten Sie nicht zu zögern und uns heute Ihr Passwort zu senden.",
		"en don't lose we":       "Don't lose access we request your mailbox password today.",
		"fr confirmer":           "Nous vous demandons de ne pas ignorer ce message et de confirmer votre mot de passe par retour de courrier aujourd'hui.",
		"es confirmar":           "Le pedimos no ignorar este mensaje y confirmar hoy por correo la contraseña del buzón.",
		"pt pedimos que não":     "Pedimos que não ignore esta mensagem e confirme hoje por e-mail a senha da sua caixa.",
		"pl przesłać":            "Prosimy nie ignorować tej wiadomości i przesłać dzisiaj hasło do skrzynki.",
		"de bestätigen":          "Wir bitten Sie nicht zu zögern und heute Ihr Passwort per E-Mail zu bestätigen.",
		"it confermare":          "Vi chiediamo di non ignorare questa email e di confermare oggi la password della casella.",
		"nl vragen niet":         "Wij vragen u niet te wachten en vandaag uw wachtwoord per e-mail te bevestigen.",
		"en ask not to ignore":   "We ask you not to ignore this message and to confirm your mailbox password by email today.",
		"en r5e control":         "To keep receiving these emails, we ask you to confirm your mailbox password today.",
		"en r5e shape":           "To keep receiving these emails, we ask you not to ignore this and to confirm your mailbox password today.",
		"es r5e shape":           "Para seguir recibiendo estos correos, le pedimos no ignorar este aviso y confirmar hoy la contraseña del buzón.",
		"fr r5e shape":           "Pour continuer à recevoir ces e-mails, nous vous demandons de ne pas ignorer cet avis et de confirmer aujourd'hui votre mot de passe.",
		"de r5e shape":           "Um diese E-Mails weiter zu erhalten bitten wir Sie nicht zu zögern und heute Ihr Passwort zu bestätigen.",
		"pl r5e shape":           "Aby nadal otrzymywać te e-maile prosimy nie ignorować tego powiadomienia i potwierdzić dzisiaj hasło.",
		"nl r5e shape":           "Om deze e-mails te blijven ontvangen vragen wij u niet te wachten en vandaag uw wachtwoord te bevestigen.",
		"de nicht den zugang":    "Verlieren Sie nicht den Zugang wir bitten um Ihr Passwort heute.",
	}
	lures := map[string]string{}
	for name, s := range asks {
		t.Logf("asksSecret(%q) = %v", s, asksSecret(s))
		lures[name] = head + s + tail
	}
	wantLuresAtFifth(t, lures, "notice-shaped lures asking for the password, a negation by the ask verb")
	// Mended: a negation of an infinitive after the ask verb is what is
	// asked not to be done (governsInfinitive). Known, pinned (never
	// found: docs/suspension.md): a subjunctive after "que", a negation
	// 4 words before a verb with no condition.
	for _, known := range []string{
		"To keep receiving these emails, don't lose access we request your mailbox password today.",
		"Para continuar a receber estes e-mails, pedimos que não ignore este aviso e confirme hoje a senha da sua caixa.",
	} {
		lure := head + known + tail
		if at := lureAt(t, 2846, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + lure }); at != 0 {
			t.Errorf("%q: found at account %d, pinned never", known, at)
		}
	}
}

// TestReviewR5fAskNotToLuresOwnLanguage (review r5f, claim 2): as
// TestReviewR5fAskNotToLures, each lure written wholly in its language
// (the notice shape of TestReviewR1NoticeLureLanguages), asking for the
// mailbox password with "we ask you not to ignore this and to confirm
// your password": neverAsked reads the ask verb with a negation 1-2 words
// after it as "we never ask".
func TestReviewR5fAskNotToLuresOwnLanguage(t *testing.T) {
	lures := map[string]string{
		"en": "You are receiving this email because you signed up for our mailbox service. Your mailbox is full and will be closed within 24 hours. We ask you not to ignore this message and to confirm your mailbox password by email today. " +
			"Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time.",
		"fr": "Vous recevez cet e-mail parce que vous êtes inscrit à notre service de messagerie. Votre boîte est pleine et sera fermée dans 24 heures. Nous vous demandons de ne pas ignorer ce message et de confirmer votre mot de passe par retour de courrier aujourd'hui. " +
			"Copyright 2026 Mail Team, tous droits réservés. Vous pouvez modifier vos préférences ou vous désabonner de cette liste.",
		"de": "Sie erhalten diese E-Mail, weil Sie sich für unseren Maildienst angemeldet haben. Ihr Postfach ist voll und wird in 24 Stunden geschlossen. Wir bitten Sie nicht zu zögern und heute Ihr Passwort per E-Mail zu bestätigen. " +
			"Copyright 2026 Mail Team, alle Rechte vorbehalten. Sie können Ihre Einstellungen ändern oder sich von dieser Liste abmelden.",
		"nl": "Je ontvangt deze e-mail omdat je je hebt aangemeld voor onze maildienst. Je mailbox is vol en wordt binnen 24 uur gesloten. Wij vragen u niet te wachten en vandaag uw wachtwoord per e-mail te bevestigen. " +
			"Copyright 2026 Mail Team, alle rechten voorbehouden. Je kunt je voorkeuren bijwerken of je afmelden voor deze lijst.",
		"pt": "Você está recebendo este e-mail porque se inscreveu no nosso serviço de correio. A sua caixa de correio está cheia e será encerrada em 24 horas. Pedimos que não ignore esta mensagem e confirme hoje por e-mail a senha da sua caixa. " +
			"Copyright 2026 Mail Team, todos os direitos reservados. Pode atualizar as suas preferências ou cancelar a subscrição desta lista.",
		"pl": "Otrzymujesz ten e-mail, ponieważ zapisałeś się do naszej usługi pocztowej. Twoja skrzynka jest pełna i zostanie zamknięta w ciągu 24 godzin. Prosimy nie ignorować tej wiadomości i przesłać dzisiaj hasło do skrzynki. " +
			"Copyright 2026 Mail Team, wszelkie prawa zastrzeżone. Możesz zmienić preferencje lub wypisać się z tej listy (subskrypcja).",
		"it": "Ricevi questa email perché ti sei iscritto al nostro servizio di posta. La tua casella è piena e sarà chiusa entro 24 ore. Vi chiediamo di non ignorare questa email e di confermare oggi la password della casella. " +
			"Copyright 2026 Mail Team, tutti i diritti riservati. Puoi aggiornare le tue preferenze o annullare l'iscrizione a questa lista.",
		"es": "Usted está recibiendo este correo porque se suscribió a nuestro servicio de correo. Su buzón está lleno y será cerrado en 24 horas. Le pedimos no ignorar este mensaje y confirmar hoy por correo la contraseña del buzón. " +
			"Copyright 2026 Mail Team, todos los derechos reservados. Puede actualizar sus preferencias o darse de baja de esta lista.",
	}
	wantLuresAtFifth(t, lures, "notice-shaped lures in their own language, 'we ask you not to ignore this and confirm your password'")
}
