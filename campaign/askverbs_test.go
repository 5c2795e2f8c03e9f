package campaign

import (
	"strings"
	"testing"
)

// TestAskVerbsWholeVerbs: a verb of asking is matched by its stem, not by
// any word that starts alike: Portuguese "prosseguir" (go on) and English
// "prospects" under a negation are no "we will never ask", and a lure
// saying so asks for the secret all the same; Polish "prosić" in its
// forms still is one.
func TestAskVerbsWholeVerbs(t *testing.T) {
	for text, want := range map[string]bool{
		"Não prossiga sem enviar a sua senha.":                        true,
		"Não prosseguiremos sem a sua senha, envie-a hoje.":           true,
		"Don't lose prospective buyers: your password expires today.": true,
		"Never prosecute a case without your password confirmed.":     true,
		"Nigdy nie prosimy o podanie hasła.":                          false,
		"Nigdy nie poprosimy Cię o podanie hasła.":                    false,
		"Nunca se le pedirá su contraseña por correo.":                false, // "se" after the negation: no condition
		"Nie prosząc o hasło, pomożemy Ci.":                           false,
	} {
		if got := namesSecret(strings.ToLower(text)); got != want {
			t.Errorf("%q: asks %v, want %v", text, got, want)
		}
	}
}
