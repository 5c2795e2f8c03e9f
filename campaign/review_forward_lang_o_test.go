package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewForwardLanguages (reviewer ro, issue 28 claim 4): six
// customers forward the same chain letter with Thunderbird or Apple
// Mail in Italian, Dutch, Portuguese or Polish (the separator and the
// header block those clients write) and a word of their own: the
// forwarded text is someone else's, as it is with the English, German
// and French separators (TestReviewForwardMarkers). Each case: 6
// customers, 6 recipients, one minute apart.
func TestReviewForwardLanguages(t *testing.T) {
	seps := map[string]string{
		"Thunderbird it": "-------- Messaggio Inoltrato --------\nOggetto: \tHelp\nData: \tMon, 3 Nov 2026 10:12:00 +0100\nMittente: \tShelter <info@shelter.example>\nA: \tfriends@shelter.example\n\n",
		"Thunderbird nl": "-------- Doorgestuurd bericht --------\nOnderwerp: \tHelp\nDatum: \tMon, 3 Nov 2026 10:12:00 +0100\nVan: \tShelter <info@shelter.example>\nAan: \tfriends@shelter.example\n\n",
		"Thunderbird pt": "-------- Mensagem encaminhada --------\nAssunto: \tHelp\nData: \tMon, 3 Nov 2026 10:12:00 +0100\nDe: \tShelter <info@shelter.example>\nPara: \tfriends@shelter.example\n\n",
		"Thunderbird pl": "-------- Przekazana wiadomość --------\nTemat: \tHelp\nData: \tMon, 3 Nov 2026 10:12:00 +0100\nNadawca: \tShelter <info@shelter.example>\nAdresat: \tfriends@shelter.example\n\n",
		"Apple Mail it":  "Inizio messaggio inoltrato:\n\nDa: Shelter <info@shelter.example>\nOggetto: Help\nData: 3 novembre 2026 10:12:00 CET\nA: friends@shelter.example\n\n",
		"Apple Mail nl":  "Begin doorgestuurd bericht:\n\nVan: Shelter <info@shelter.example>\nOnderwerp: Help\nDatum: 3 november 2026 om 10:12:00 CET\nAan: friends@shelter.example\n\n",
		// Outlook's forward header block without a line (its HTML's
		// border as text), handled in en, de and fr.
		"Outlook es":    "De: Shelter <info@shelter.example>\nEnviado el: lunes, 3 de noviembre de 2026 10:12\nPara: friends@shelter.example\nAsunto: Help\n\n",
		"Outlook it":    "Da: Shelter <info@shelter.example>\nInviato: lunedì 3 novembre 2026 10:12\nA: friends@shelter.example\nOggetto: Help\n\n",
		"Outlook nl":    "Van: Shelter <info@shelter.example>\nVerzonden: maandag 3 november 2026 10:12\nAan: friends@shelter.example\nOnderwerp: Help\n\n",
		"Outlook pl":    "Od: Shelter <info@shelter.example>\nWysłano: poniedziałek, 3 listopada 2026 10:12\nDo: friends@shelter.example\nTemat: Help\n\n",
		"Apple Mail es": "Inicio del mensaje reenviado:\n\nDe: Shelter <info@shelter.example>\nAsunto: Help\nFecha: 3 de noviembre de 2026, 10:12:00 CET\nPara: friends@shelter.example\n\n",
	}
	var bad []string
	for name, s := range seps {
		var msgs []string
		for i := range 6 {
			msgs = append(msgs, plain(fmt.Sprintf("p%d@isp.example", i), fmt.Sprintf("friend%d@remote.example", i), "Fwd: Help", "FYI\n\n"+s+chain))
		}
		if c, su := reviewSend(t, msgs); c != 0 || su != 0 {
			bad = append(bad, fmt.Sprintf("%s: %d campaigns, %d customers suspended", name, c, su))
		}
	}
	if len(bad) > 0 {
		t.Errorf("forwarding a chain letter:\n%s", strings.Join(bad, "\n"))
	}
}
