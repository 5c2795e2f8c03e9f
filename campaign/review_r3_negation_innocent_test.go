package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR3NeverAskPhrasings (claim 4, innocent side): the shared
// notice says it will never ask for the password in the words banks and
// shops use, the negation more than four words before the secret:
// "will never ask you to disclose your password", "nunca lhe pediremos
// a sua senha", "nigdy nie poprosimy Cię o podanie hasła", "nunca le
// pediremos que nos facilite su clave de acceso", "wij zullen u nooit
// per e-mail vragen naar uw wachtwoord". Twelve organisations, each
// with its own PayPal button or nothing to act on, are one campaign.
func TestReviewR3NeverAskPhrasings(t *testing.T) {
	head := "Copyright 2026 All rights reserved. You are receiving this email because you subscribed on our website. "
	tail := " You can update your preferences or unsubscribe from this list."
	never := map[string]string{
		"en":            "We will never ask you to disclose your password by email.",
		"en, customers": "We never ask customers to share or confirm their password.",
		"pt":            "Nunca lhe pediremos a sua senha por e-mail.",
		"pl":            "Nigdy nie poprosimy Cię o podanie hasła w wiadomości e-mail.",
		"es":            "Nunca le pediremos que nos facilite su clave de acceso por correo.",
		"nl":            "Wij zullen u nooit per e-mail vragen naar uw wachtwoord.",
		"it":            "Non ti chiederemo mai di comunicarci le tue credenziali via email.",
	}
	var held []string
	for lang, sentence := range never {
		if newsletterCampaign(t, payPalNews(head+sentence+tail), true) {
			held = append(held, fmt.Sprintf("%s %q: asksSecret=%v", lang, sentence, asksSecret(sentence)))
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d organisations' notices saying they never ask for the password a campaign:\n%s", len(held), len(never), strings.Join(held, "\n"))
	}
}
