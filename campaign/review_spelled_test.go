package campaign

import (
	"strings"
	"testing"
)

// reviewSpelledLures are calls to action spelledLures did not try and
// the detectors missed, each completing noticeLure's "update your
// account …": a link or number with invisible characters in it, a dot
// written in brackets of other shapes or cases, letters that look like
// digits, German's "zwo" and French's "un" in a number, and a reply
// asked for in other words, in English, German and French.
var reviewSpelledLures = map[string]string{
	// Invisible characters (TestReviewSpelledInvisible).
	"zero-width space in the link":     "at secure-login\u200b.com",
	"zero-width space in the dot word": "at secure-login d\u200bot com",
	"soft hyphen in the link":          "at secure-login\u00ad.com",
	"zero-width spaces in the number":  "by calling 800\u200b555\u200b0199",
	"word joiner in the reply":         "by rep\u2060lying with your PIN",
	// Dots.
	"{dot}":  "at secure-login{dot}com",
	"<dot>":  "at secure-login<dot>com",
	"[Dot]":  "at secure-login[Dot]com",
	"d0t":    "at secure-login d0t com",
	"bullet": "at secure-login•com",
	// Numbers.
	"O and l for 0 and 1":   "by calling 8OO-555-Ol99",
	"O and l spaced":        "by calling 8OO 555 Ol99",
	"zwo":                   "by calling null acht null null fünf fünf fünf eins zwo drei",
	"un in a French number": "by calling zéro un quatre deux six huit cinq trois zéro zéro",
	// Replies.
	"get back to us":     "and get back to us with your PIN",
	"write to us":        "and write to us with your card number",
	"return this email":  "and return this email with your account number",
	"let us know":        "and let us know your date of birth",
	"send over":          "and send over your PIN",
	"forward us":         "and forward us your card number",
	"revert":             "and revert with your card number",
	"TAN":                "und senden Sie uns die TAN aus der SMS",
	"card details":       "by answering this message with your card details",
	"PIN-code":           "by answering this message with your PIN-code",
	"security questions": "by answering this message with your security questions",
	"schreiben Sie uns":  "und schreiben Sie uns Ihre PIN",
	"teilen Sie uns mit": "und teilen Sie uns Ihre Kreditkartennummer mit",
	"renvoyez-nous":      "et renvoyez-nous votre code secret",
	"communiquez-nous":   "et communiquez-nous votre numéro de carte",
	"transmettez-nous":   "et transmettez-nous votre date de naissance",
}

// TestReviewSpelledNoEvasion: the lure written as the shared notice
// under 30 words of each copy's own, its call to action as
// reviewSpelledLures', is found at the 5th account, in text and in
// HTML. Before, each was found at no account of 12 in text.
func TestReviewSpelledNoEvasion(t *testing.T) {
	for name, at := range reviewSpelledLures {
		t.Run(name, func(t *testing.T) { spelledFoundAt5(t, at) })
	}
}

// TestReviewSpelledInvisible: what a reader does not see is not in the
// link, number or request the detectors read; prose with those
// characters stays prose.
func TestReviewSpelledInvisible(t *testing.T) {
	for text, want := range map[string]bool{
		"visit secure-login\u200b.com today":     true,
		"call 800\u200b555\u200b0199":            true,
		"call 800\u200d-\u200d555-0199":          true,
		"reply\u200b with your password":         true,
		"the meeting\u200b is at ten in room 4.": false,
		"Thank\u00adyou for the lovely evening.": false,
	} {
		if got := hasPayload(text) || asksSecret(text); got != want {
			t.Errorf("payload(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestReviewSpelledProse: the new words take no ordinary prose for a
// number or a request for a secret.
func TestReviewSpelledProse(t *testing.T) {
	for _, text := range []string{
		"O2 and Vodafone both cover Oslo 1000 and the A1 road.",
		"Room 2O4, flight LO 281 to Warsaw, 10 of them at 9 o'clock.",
		"Let us know your thoughts on the code of conduct by Friday.",
		"Please let us know if you have any questions.",
		"Il y a un an, deux cent trois élèves et un professeur.",
		"Zwo, eins, Risiko! Die Sendung lief um acht.",
		"Forward us the minutes and send over the slides, thanks.",
		"We got a tan in the sun; get back to us, write back soon.",
		"Please return this form to the school office by Monday.",
	} {
		if id := spelledNumber(text) + askReply(strings.ToLower(text)); id != "" || hasPayload(text) || asksSecret(text) {
			t.Errorf("%q: a payload (%q)", text, id)
		}
	}
}

// BenchmarkReviewSpelledPathological: normalize on MaxText of text made
// to cost the detectors of spelled.go the most (a chain of dot words,
// digits and separators, letters for digits, number words, invisible
// characters between digits) beside MaxText of ordinary prose, in one
// run: the ratios are what such a part costs over an ordinary one.
func BenchmarkReviewSpelledPathological(b *testing.B) {
	fill := func(unit string) string { return strings.Repeat(unit, MaxText/len(unit)+1)[:MaxText] }
	for _, c := range []struct{ name, text string }{
		{"prose", fill(strings.Join(wiki, " ") + " ")},
		{"dot-words", fill("dot ")},
		{"label-dot-chain", fill("secure dot ")},
		{"digits-and-separators", fill("8 - 0 / 0 . ")},
		{"letter-digits", fill("1O1l")},
		{"letter-digit-words", fill("1O1 ")},
		{"number-words", fill("eight hundred double ")},
		{"invisible-digits", fill("8\u200b0\u200b")},
		{"reply-words", fill("reply with your ")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				normalize(c.text, false, nil)
			}
		})
	}
}

// TestReviewSpelledOtherDomains: a name without a hyphen or digit, one
// dot word and a domain other than commonTLDs', punctuation right after
// it, is a link ("mailverify dot io."); before, only com, net, org,
// info and biz were. Prose's "point" and domains that are words of prose
// stay prose.
func TestReviewSpelledOtherDomains(t *testing.T) {
	for text, want := range map[string]string{
		"at securelogin dot xyz.":        "url:securelogin.xyz",
		"at mailverify dot io, today":    "url:mailverify.io",
		"at mailverify dot online!":      "url:mailverify.online",
		"bei mailverify punkt de.":       "url:mailverify.de",
		"the main point is: we win":      "",
		"a good point, is it not?":       "",
		"click the red dot now.":         "",
		"the red dot is.":                "",
		"un bon point de.":               "",
		"Wir treffen uns um Punkt acht.": "",
		"Das ist der Punkt, oder?":       "",
	} {
		if got := spelledLink(text); got != want {
			t.Errorf("spelledLink(%q) = %q, want %q", text, got, want)
		}
	}
	for _, at := range []string{"at securelogin dot xyz", "at mailverify dot io", "bei mailverify punkt de"} {
		spelledFoundAt5(t, at)
	}
}
