package campaign

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/mail"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/mimewalk"
)

// spelledLures are the lure's calls to action written so that the plain
// detectors miss them, each completing noticeLure's "update your account
// …": a link in words, a number in words or letters, a secret asked for
// by reply in other words.
var spelledLures = map[string]string{
	// Links.
	"dot":            "at secure-login dot com",
	"dot twice":      "at secure-login dot example dot com",
	"[dot] spaced":   "at secure-login [dot] com",
	"(dot) spaced":   "at secure-login (dot) com",
	"spelled scheme": "by typing h t t p s : / / and our mailbox page",
	"comma":          "when you visit securelogin,com",
	"one dot leader": "at secure-login\u2024com",
	"middle dot":     "at secure-login·com",
	"punkt":          "at secure-login punkt de",
	"point":          "at secure-login point fr",
	// Numbers.
	"number in words":   "by calling eight hundred five five five zero one nine nine",
	"vanity":            "by calling 1-800-MAILBOX",
	"wide groups":       "by calling 800 - 555 - 0123",
	"full-width digits": "by calling ８００ ５５５ ０１２３",
	"arabic-indic":      "by calling ٨٠٠ ٥٥٥ ٠١٢٣",
	"underscores":       "by calling 800_555_0199",
	"en dashes":         "by calling 800–555–0199",
	"spaced vanity":     "by calling 1 800 MAILBOX",
	// Found on main already, kept so they stay found: the spaced dot
	// ends a sentence (the notice is no longer one), the digits are
	// longNumber's, the reply terms asksSecret's.
	"spaced dot":    "at secure - login . com",
	"beantworten":   "und beantworten Sie diese Nachricht mit Ihrem Geburtsdatum",
	"four groups":   "by calling 800 555 01 23",
	"uk groups":     "by calling +44 (0) 20 7946 0958",
	"dotted groups": "by calling 800.555.0123",
	"spaced digits": "by calling 8 0 0 5 5 5 0 1 2 3",
	"respond with":  "and respond with your account number",
	"antworten sie": "oder antworten Sie mit Ihrer PIN",
	"répondez":      "ou répondez avec votre code",
	// Replies.
	"PIN in an answer":  "by sending us your PIN in an answer",
	"date of birth":     "by answering this message with your date of birth",
	"card number":       "by answering this message with your card number",
	"security code":     "by answering this message with your security code",
	"verification code": "by answering this message with your verification code",
	"urged":             "and don't forget to answer this message with your PIN",
	"look-alike label":  "at sеcure-login dot com",
}

// TestSpelledPayloadNoEvasion: a run's lure written as a shared notice
// (cut as one when it has nothing to act on) under 30 words of varying
// text per copy, its call to action in words, letters or look-alike
// characters (spelledLures), is found at the 5th account. Before, those
// not marked as found on main were cut with the notice and never found
// in 12.
func TestSpelledPayloadNoEvasion(t *testing.T) {
	for name, at := range spelledLures {
		t.Run(name, func(t *testing.T) { spelledFoundAt5(t, at) })
	}
}

// spelledFoundAt5 checks that the notice-shaped lure asking to "update
// your account " + at, under each copy's own text and over it in HTML,
// is found at the 5th account.
func spelledFoundAt5(t *testing.T, at string) {
	n := lureAt(t, 28, plainSubject, "text/plain; charset=utf-8", func(i int, own string) string {
		return own + "\n\n" + noticeLure(at)
	})
	if n != 5 {
		t.Errorf("%q: found at account %d, want 5", at, n)
	}
	// Over the text too, and in HTML.
	n = lureAt(t, 29, plainSubject, "text/html; charset=utf-8", func(i int, own string) string {
		return "<p>" + noticeLure(at) + "</p><p>" + own + "</p>"
	})
	if n != 5 {
		t.Errorf("%q over the text in HTML: found at account %d, want 5", at, n)
	}
}

// TestSpelledPayloadDetectors: what each detector names, and ordinary
// prose it must not take for a link, a number or a request for a secret
// ("the dot com bubble", years, prices, dates, postcodes, order numbers
// under nine digits, times, "answer" in business text).
func TestSpelledPayloadDetectors(t *testing.T) {
	for text, want := range map[string]string{
		// A chain of more than maxLabels labels: its last ones.
		strings.Repeat("x . ", 3*maxLabels) + "secure-login . com": "url:secure-login.com",
		"at secure-login dot com today":                            "url:secure-login.com",
		"at secure-login dot example dot com":                      "url:example.com",
		"at secure-login [dot] com":                                "url:secure-login.com",
		"at secure - login . com":                                  "url:secure-login.com",
		"visit securelogin,com now":                                "url:securelogin.com",
		"at secure-login\u2024com":                                 "url:secure-login.com",
		"besuchen Sie secure-login punkt de.":                      "url:secure-login.de",
		"h t t p s : / / secure-login.com":                         "url:secure-login.com",
		"experience in dot net and Java":                           "",
		"the dot com bubble":                                       "",
		"early dot com companies burst":                            "",
		"a blue dot in the map":                                    "",
		"the main point is: we win":                                "",
		"a good point, is it not?":                                 "",
		"un bon point de départ":                                   "",
		"ein wichtiger Punkt ist das":                              "",
		"Punkt 3 der Tagesordnung":                                 "",
		"Paris,France and yes,no, hello,world":                     "",
		"Home · About · Contact":                                   "",
		"I put a dot . then went on":                               "",
	} {
		if got := spelledLink(text); got != want {
			t.Errorf("spelledLink(%q) = %q, want %q", text, got, want)
		}
	}
	for text, want := range map[string]string{
		"call eight hundred five five five zero one nine nine": "tel:8005550199",
		"call one eight hundred double five five-zero-one-two": "tel:1800555012",
		"ruf null acht null null fünf fünf fünf eins zwei an":  "tel:080055512",
		"call 1-800-MAILBOX":                  "tel:18006245269",
		"call (800)FLOWERS.":                  "tel:18003569377",
		"call 800 - 555 - 0123":               "tel:8005550123",
		"call 800_555_0199 or":                "tel:8005550199",
		"call 800–555–0199":                   "tel:8005550199",
		"call 8 hundred 555 0199":             "tel:8005550199",
		"call 1 800 MAILBOX.":                 "tel:18006245269",
		"call 1-800-CONTACTS":                 "tel:18002668228",
		"call ８００５５５０１２３":                     "tel:8005550123",
		"call ٨٠٠ ٥٥٥ ٠١٢٣":                   "tel:8005550123",
		"one, two, three, go":                 "",
		"in 2024 we paid € 1 500 for 3 items": "",
		"on 12.03.2025 at 10:30 – 11:45":      "",
		"valid 01.01.2024 – 31.12.2024":       "",
		"2019 - 2020 - 2021 - 2022":           "",
		"order 12345678, 12345 Berlin":        "",
		"10:30 - 11:30 - 12:30 - 13:30":       "",
		"the A-380 and B-747 fly":             "",
		"account 12345 - 6789":                "",
		"salary 40000 - 60000 a year":         "",
		"call 80 - 55 - 50 - 12":              "",
	} {
		if got := spelledNumber(text); got != want {
			t.Errorf("spelledNumber(%q) = %q, want %q", text, got, want)
		}
	}
	for text, want := range map[string]bool{
		"send us your PIN in an answer":                            true,
		"Answer this message with your date of birth.":             true,
		"Antworten Sie mit Ihrer PIN.":                             true,
		"Répondez avec votre code.":                                true,
		"Please answer the survey by Friday.":                      false,
		"We will answer your questions about the code of conduct.": false,
		"Never reply with your PIN.":                               false,
		"Please do not answer with your card number.":              false,
		"Send us your feedback. Your PIN is in the letter.":        false,
		"We'll respond to your account number change request.":     false,
		"Can you send me the slides? Thanks for the answer.":       false,
	} {
		if got := askReply(strings.ToLower(text)) != ""; got != want {
			t.Errorf("askReply(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestSpelledPayloadHam: the new detectors take no message of the ham
// corpus (seed 28's 6000 messages, OUTGUARD_HAM_SEEDS's as
// TestHamCorpus, and the families) for a payload, in a body part or the
// subject: its payload messages are what they were before.
func TestSpelledPayloadHam(t *testing.T) {
	corpus := hamgen.Families(28, 3, time.Hour)
	for _, seed := range hamSeeds(t) {
		corpus = append(corpus, hamgen.Corpus(seed, 6000, time.Hour)...)
	}
	spelled := func(s string) string { return spelledLink(s) + spelledNumber(s) + askReply(strings.ToLower(s)) }
	payloads := 0 // messages a payload by all detectors
	for _, m := range corpus {
		payload := false
		if msg, err := mail.ReadMessage(bytes.NewReader(m.Raw)); err != nil {
			t.Fatal(err)
		} else if id := spelled(msg.Header.Get("Subject")); id != "" {
			t.Errorf("%s message of %s: %s in the subject %q", m.Kind, m.Account, id, msg.Header.Get("Subject"))
		}
		if _, err := mimewalk.Walk(context.Background(), bytes.NewReader(m.Raw), int64(len(m.Raw)), mimewalk.Limits{}, func(it *mimewalk.Item) error {
			if !it.IsBody {
				return nil
			}
			b, err := io.ReadAll(io.NewSectionReader(it.Data, 0, it.Data.Size()))
			if err != nil {
				return err
			}
			payload = payload || hasPayload(string(b)) || asksSecret(string(b))
			// An HTML part's source is read as its attributes apart too.
			if id := spelled(string(b)) + spelled(attrSpaced.Replace(string(b))); id != "" {
				t.Errorf("%s message of %s: %s\n%s", m.Kind, m.Account, id, b)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if payload {
			payloads++
		}
	}
	t.Logf("%d messages, %d with a payload in a body part, none by spelled.go's detectors", len(corpus), payloads)
}

// BenchmarkSpelledShare: the detectors of spelled.go on the parts of
// message10K (its text and its HTML source, as normalize reads them)
// beside the whole of normalize on the same parts, which calls them:
// the ratio is their share of the normalizer's cost, in one run.
func BenchmarkSpelledShare(b *testing.B) {
	raw := string(message10K())
	_, body, _ := strings.Cut(raw, "\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	text, html, _ := strings.Cut(body, "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n")
	html, _, _ = strings.Cut(html, "\r\n--b--")
	b.Run("normalize", func(b *testing.B) {
		for b.Loop() {
			normalize(text, false, nil)
			normalize(html, true, nil)
		}
	})
	// What normalize reads them in: the HTML's source for links and
	// numbers, lower case for a request.
	parts := []string{text, html, attrSpaced.Replace(html)}
	b.Run("spelled", func(b *testing.B) {
		for b.Loop() {
			for _, s := range parts {
				if spelledLink(s)+spelledNumber(s) != "" {
					b.Fatal("a payload")
				}
			}
			for _, s := range parts[:2] {
				if askReply(strings.ToLower(s)) != "" {
					b.Fatal("a payload")
				}
			}
		}
	})
}

// TestSpelledPayloadOtherPart: the payload written in words is looked
// for only once a block is cut (normalized.wait), in every part
// read before or after that: a lure whose link in words stands in one
// text part and whose notice in another is found at the 5th account,
// whichever part comes first.
func TestSpelledPayloadOtherPart(t *testing.T) {
	const b = "b28spelled"
	part := func(s string) string {
		return "--" + b + "\nContent-Type: text/plain; charset=utf-8\n\n" + s + "\n"
	}
	for name, noticeFirst := range map[string]bool{"link first": false, "notice first": true} {
		t.Run(name, func(t *testing.T) {
			n := lureAt(t, 30, plainSubject, "multipart/mixed; boundary="+b, func(i int, own string) string {
				// The notice under words of the copy's own (a block is
				// cut only from 20 of them).
				link, notice := part(own+"\n\nPlease sign in at secure-login dot com today."), part(own+"\n\n"+noticeLure("today"))
				if noticeFirst {
					link, notice = notice, link
				}
				return link + notice + "--" + b + "--"
			})
			if n != 5 {
				t.Errorf("found at account %d, want 5", n)
			}
		})
	}
}

// TestSpelledPayloadWaitBound: the texts waiting for a block to be cut
// before their payload written in words is looked for are at most
// maxWait bytes; past it they are looked at at once and let go.
func TestSpelledPayloadWaitBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 31))
	for parts, waiting := range map[int]bool{maxWait / MaxText: true, maxWait/MaxText + 1: false} {
		c := collectorOf(t, nil, longParts(rng, parts, "Sign in at secure-login dot com.\n", ""))
		if got := len(c.wait) > 0; got != waiting || c.payload == waiting {
			t.Errorf("%d parts of MaxText: %d waiting, payload %v; want waiting %v", parts, len(c.wait), c.payload, waiting)
		}
		if waiting && c.waitBytes != parts*MaxText {
			t.Errorf("%d parts: %d bytes waiting, want %d", parts, c.waitBytes, parts*MaxText)
		}
	}
}
