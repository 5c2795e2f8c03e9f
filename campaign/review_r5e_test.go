package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR5eSubjectAfterNegationNoticesInnocent (review r5e, claim 1):
// 02ba551's subjects reset a negation whenever "we"/"wir"/"wij"/"nós"/
// "nosotros"/"noi"/"my" follows it, so the commonest inversions of "we
// will never ask for your password" ("At no time will we ask",
// "Under no circumstances will we ask", Dutch "Nooit zullen wij…",
// Italian "Non saremo mai noi a chiederti…", Portuguese "Nunca seremos
// nós a pedir…") and English "my" ("the My Account team") now ask for
// the password: twelve organisations under the notice a campaign.
// Before 02ba551 each verb was within 4 words of its negation.
func TestReviewR5eSubjectAfterNegationNoticesInnocent(t *testing.T) {
	sentences := map[string]string{
		"en at no time":         "At no time will we ask you for your password by email.",
		"en under no":           "Under no circumstances will we ask for your password.",
		"en never will we":      "Never will we ask for your password.",
		"en not once":           "Not once will we ask for your password by email.",
		"de nie werden wir":     "Nie werden wir Sie fragen nach Ihrem Passwort.",
		"en My Account":         "No one from My Account will ever ask for your password.",
		"nl nooit zullen wij":   "Nooit zullen wij u vragen om uw wachtwoord.",
		"it non saremo mai noi": "Non saremo mai noi a chiederti la password.",
		"pt nunca seremos nós":  "Nunca seremos nós a pedir a sua senha.",
		"es nunca nosotros":     "Nunca nosotros le pediremos su contraseña.",
	}
	wantSentencesInNotices(t, sentences, false)
}

// TestReviewR5eNoLongerNoticesInnocent (review r5e, claim 1): 02ba551's
// comparative takes "no longer" and "nicht mehr" for a limit, not a
// negation: "we no longer ask for your password by email" (a notice of a
// change) and German "Wir fragen Sie nicht mehr nach Ihrem Passwort"
// now ask for the password.
func TestReviewR5eNoLongerNoticesInnocent(t *testing.T) {
	sentences := map[string]string{
		"en no longer":  "We no longer ask for your password by email.",
		"de nicht mehr": "Wir fragen Sie nicht mehr nach Ihrem Passwort per E-Mail.",
	}
	wantSentencesInNotices(t, sentences, false)
}

// TestReviewR5eNegatedOtherVerbLures (review r5e, claim 1): a negation
// of another verb up to 4 words before the ask verb, with no listed
// subject between (pronoun-dropping es/it/pt/pl, German's and Dutch's
// verb-second after a clause, English passive), or a "no" up to 2
// words after it that makes no limit 02ba551's comparative knows ("we
// ask no fee but your password", "we request no further action than"),
// still reads as "we never ask": each lure asks for the mailbox
// password and is never found. Mended: a condition's or a purpose's
// negation governs its own verb only. Known, pinned: "we ask no fee but
// your mailbox password" (a "no" after the verb, no comparative).
func TestReviewR5eNegatedOtherVerbLures(t *testing.T) {
	head := "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and will be closed within 24 hours. "
	tail := " Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
	asks := map[string]string{
		"control":               "To keep receiving these emails, we request your mailbox password today.",
		"en passive":            "To keep receiving these emails, if not confirmed you are requested to reply with your mailbox password today.",
		"es para no perderla":   "Para seguir recibiendo estos correos, para no perderla le pedimos hoy la contraseña del buzón.",
		"it per non perderla":   "Per continuare a ricevere queste email, per non perderla ti chiediamo oggi la password della casella.",
		"pt para não a perder":  "Para continuar a receber estes e-mails, para não a perder pedimos hoje a senha da sua caixa.",
		"de nicht zu verlieren": "Um diese E-Mails weiter zu erhalten und den Zugang nicht zu verlieren bitten wir Sie heute um Ihr Passwort.",
		"nl niet te verliezen":  "Om deze e-mails te blijven ontvangen en uw account niet te verliezen vragen wij u vandaag uw wachtwoord.",
		"en request no further": "To keep receiving these emails, we request no further action than a reply with your mailbox password today.",
		"pl aby nie stracić":    "Aby nadal otrzymywać te e-maile i nie stracić dostępu prosimy o podanie hasła dzisiaj.",
	}
	lures := map[string]string{}
	for name, s := range asks {
		t.Logf("asksSecret(%q) = %v", s, asksSecret(s))
		lures[name] = head + s + tail
	}
	wantLuresAtFifth(t, lures, "notice-shaped lures asking for the password, another verb negated")
	known := head + "To keep receiving these emails, we ask no fee but your mailbox password today." + tail
	if at := lureAt(t, 2846, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + known }); at != 0 {
		t.Errorf("'we ask no fee but your mailbox password': found at account %d, pinned never (docs/suspension.md)", at)
	}
}

// TestReviewR5eGoogleOwnPagesMerged (review r5e, claim 2): f58425a names
// file/document/spreadsheets/presentation/d/X by X, and X is "e" on
// every published document, sheet and presentation (d/e/2PACX-…/pub):
// every organisation's published page one target. An old sheet under a
// Workspace domain (/a/DOMAIN/spreadsheet/ccc?key=) loses its key (the
// key is kept only under a path starting /spreadsheet/), an old
// published doc (document/pub?id=) and the Docs viewer (viewer?url=)
// keep nothing; 02ba551 drops a/DOMAIN on every Google host, so each
// Workspace's own group groups.google.com/a/DOMAIN/g/announce is one;
// old folderview?id= and viewform?formkey= keep nothing; Teams chat
// links (l/chat/0/0?users=) are all one.
func TestReviewR5eGoogleOwnPagesMerged(t *testing.T) {
	wantOwnPagesInnocent(t, map[string]func(i int) string{
		"published doc document/d/e/ID/pub": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/document/d/e/2PACX-1vQ%dzXr%dKp/pub", i, i*7)
		},
		"published sheet spreadsheets/d/e/ID/pubhtml": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/spreadsheets/d/e/2PACX-1vR%dyWq%dLm/pubhtml", i, i*7)
		},
		"published slides presentation/d/e/ID/pub": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/presentation/d/e/2PACX-1vS%dxTp%dNn/pub?start=false&loop=false", i, i*7)
		},
		"old sheet /a/DOMAIN/spreadsheet/ccc?key=": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/a/org%d.example/spreadsheet/ccc?key=0Ak%dXy%dZw", i, i, i*7)
		},
		"old published doc document/pub?id=": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/document/pub?id=1Pb%dQr%dSt", i, i*7)
		},
		"Docs viewer viewer?url=": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/viewer?url=https%%3A%%2F%%2Forg%d.example%%2Fnewsletter.pdf&embedded=true", i)
		},
		"Workspace group groups.google.com/a/DOMAIN/g/announce": func(i int) string {
			return fmt.Sprintf("https://groups.google.com/a/org%d.example/g/announce", i)
		},
		"old Drive folder folderview?id=": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/folderview?id=0B%dFo%dLd&usp=sharing", i, i*7)
		},
		"old form spreadsheet/viewform?formkey=": func(i int) string {
			return fmt.Sprintf("https://docs.google.com/spreadsheet/viewform?formkey=dGx%dSz%dQ", i, i*7)
		},
		"Teams chat l/chat/0/0?users=": func(i int) string {
			return fmt.Sprintf("https://teams.microsoft.com/l/chat/0/0?users=secretary@org%d.example", i)
		},
	}, "variants a campaign")
}

// TestReviewR5eGooglePageSplit (review r5e, claim 2): one Google page
// spelt per copy in forms f58425a does not fold: the old account index
// /b/N/ (as /u/N/) on Calendar and Drive, a Docs id with one character
// percent-encoded per copy (Google decodes it; the id is kept escaped),
// a Drive folder by /drive/folders/ID and embeddedfolderview?id=ID
// alternately, a Teams meeting by its path and by the launcher whose
// url= carries the "@" encoded twice (%2540, as Teams writes it).
func TestReviewR5eGooglePageSplit(t *testing.T) {
	wantHrefRunsFound(t, map[string]func(i int) string{
		"Calendar embed under /b/N/": func(i int) string {
			return fmt.Sprintf("https://calendar.google.com/calendar/b/%d/embed?src=mailteam%%40gmail.com", i)
		},
		"Drive folder under /drive/b/N/": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/drive/b/%d/folders/1FoLdEr", i)
		},
		"Docs id, one character percent-encoded per copy": func(i int) string {
			id := []byte("1DoCuMeNtAbCdEf")
			return fmt.Sprintf("https://docs.google.com/document/d/%s%%%02X%s/edit", id[:i%12], id[i%12], id[i%12+1:])
		},
		"Drive folder, folders/ID and embeddedfolderview?id=ID": func(i int) string {
			return []string{"https://drive.google.com/drive/folders/1FoLdEr", "https://drive.google.com/embeddedfolderview?id=1FoLdEr#list"}[i%2]
		},
		"Teams meeting, path and launcher (%2540)": func(i int) string {
			return []string{"https://teams.microsoft.com/l/meetup-join/19%3ameeting_ZmQ3@thread.v2/0",
				"https://teams.microsoft.com/dl/launcher/launcher.html?url=%2F_%23%2Fl%2Fmeetup-join%2F19%3Ameeting_ZmQ3%2540thread.v2%2F0&type=meetup-join&directDl=true"}[i%2]
		},
	})
}

// TestReviewR5eFreeMailMerged (review r5e, claim 3): big free-mail
// providers of Europe and Asia still unlisted: two people's mailboxes
// there one target "mail:DOMAIN", twelve organisations each pointing to
// its own secretary's address a campaign (as TestReviewR5dFreeMailMerged;
// control gmail.com).
func TestReviewR5eFreeMailMerged(t *testing.T) {
	held := freeMailMerges(t, []string{"gmail.com", "hanmail.net", "daum.net", "nate.com", "docomo.ne.jp", "ezweb.ne.jp", "sina.com", "foxmail.com", "139.com", "yeah.net",
		"rambler.ru", "ya.ru", "email.cz", "centrum.cz", "freemail.hu", "hotmail.com.tr", "arcor.de", "sapo.pt", "yahoo.co.kr", "libero.it"},
		[]string{"hanmail.net", "docomo.ne.jp", "rambler.ru"})
	if len(held) > 0 {
		t.Errorf("%d merges:\n%s", len(held), strings.Join(held, "\n"))
	}
}
