package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/policy"
)

// noticeLure is a phishing text written as an opt-in notice (every
// sentence names a boilerplate term), asking the reader to act as at
// says: no link or number in it.
func noticeLure(at string) string {
	return "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and your account " +
		"will be closed within 24 hours unless you verify it. To keep receiving these emails, update your account " + at + ". " +
		"Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
}

// lureAt is the account at which copies of the notice-shaped lure under
// 30 random words of each copy's own, with extra headers and in
// content type ct (body(i) the body, the lure in it), are found.
func lureAt(t *testing.T, seed uint64, extra func(i int) string, ct string, body func(i int, own string) string) int {
	rng := rand.New(rand.NewPCG(28, seed))
	return foundAt(t, 12, func(i int) (string, []byte) {
		rcpt := fmt.Sprintf("victim%d@remote%d.example", i, i%7)
		h := "From: Mail Team <team@isp.example>\nTo: <" + rcpt + ">\n" + extra(i) + "MIME-Version: 1.0\nContent-Type: " + ct + "\n\n"
		return rcpt, []byte(h + body(i, ownText(rng, 30)) + "\n")
	})
}

func plainSubject(int) string { return "Subject: Mailbox notice\n" }

// TestReviewNoticeOtherParts: the lure's link or number only in a body
// part the text is not read from (a calendar invitation beside the
// text, a vCard, text/enriched) is something to act on: found at the
// 5th account. Before, none was found in 12.
func TestReviewNoticeOtherParts(t *testing.T) {
	for name, part := range map[string]string{
		"text/calendar": "Content-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Verify mailbox\n" +
			"URL:https://secure-login.phish.example/v\nDESCRIPTION:Verify at https://secure-login.phish.example/v\nEND:VEVENT\nEND:VCALENDAR\n",
		"text/vcard":    "Content-Type: text/vcard\n\nBEGIN:VCARD\nVERSION:3.0\nFN:Mail Team\nTEL:+1 800 555 0199\nEND:VCARD\n",
		"text/enriched": "Content-Type: text/enriched\n\nhttps://secure-login.phish.example/v\n",
	} {
		for _, multi := range []string{"alternative", "mixed"} {
			at := lureAt(t, 1, plainSubject, "multipart/"+multi+"; boundary=zz", func(i int, own string) string {
				return "--zz\nContent-Type: text/plain\n\n" + own + "\n\n" + noticeLure("as the attached card says") + "\n--zz\n" + part + "--zz--\n"
			})
			if at != 5 {
				t.Errorf("%s in multipart/%s: found at account %d, want 5", name, multi, at)
			}
		}
	}
}

// TestReviewNoticeAsksReply: a lure written as the notice that collects
// by reply (to the stolen account itself, or to its Reply-To) needs no
// link: found at the 5th account. Before, neither was found in 12.
func TestReviewNoticeAsksReply(t *testing.T) {
	if at := lureAt(t, 2, plainSubject, "text/plain", func(i int, own string) string {
		return own + "\n\n" + noticeLure("by replying to this email with your mailbox password")
	}); at != 5 {
		t.Errorf("asking for the password by reply: found at account %d, want 5", at)
	}
	replyTo := func(i int) string { return "Subject: Mailbox notice\nReply-To: Mail Team <desk@collector.example>\n" }
	if at := lureAt(t, 3, replyTo, "text/plain", func(i int, own string) string {
		return own + "\n\n" + noticeLure("by answering this message with your full name and mailbox details")
	}); at != 5 {
		t.Errorf("answers to a Reply-To elsewhere: found at account %d, want 5", at)
	}
	// A notice saying not to reply asks for nothing: it is cut.
	own := "The choir will rehearse on Tuesday evenings again from next week and would love to welcome new singers at the old church hall."
	if toks := Normalize(own+"\n\n"+optInNotice+" Please do not reply to this email.", false, nil); slices.Contains(toks, "unsubscribe") {
		t.Errorf("a no-reply notice was not cut: %q", toks)
	}
	for text, want := range map[string]bool{
		"Please do not reply to this email.":       false,
		"Please don't reply to this message.":      false,
		"Reply to this email with your details.":   true,
		"We will never ask for your password.":     false, // a notice shared by innocents (TestNoticeLureLanguagesInnocent)
		"Never mind the form: send your password.": true,
		"Antworten Sie mit Ihren Zugangsdaten.":    true,
		"Nothing to do, thank you for subscribing": false,
	} {
		if got := asksSecret(text); got != want {
			t.Errorf("asksSecret(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestReviewNoticeDefanged: a link or address written so no client links
// it ("secure-login[.]phish[.]com") is one a reader types: found at the
// 5th account, as a long subject's number after its 200th byte is.
// Before, neither was found in 12.
func TestReviewNoticeDefanged(t *testing.T) {
	if at := lureAt(t, 4, plainSubject, "text/plain", func(i int, own string) string {
		return own + "\n\n" + noticeLure("at secure-login[.]phish[.]com/verify")
	}); at != 5 {
		t.Errorf("defanged link: found at account %d, want 5", at)
	}
	long := func(int) string {
		return "Subject: Mailbox notice " + strings.Repeat("important ", 20) + "call +1 (800) 555-0199\n"
	}
	if at := lureAt(t, 5, long, "text/plain", func(i int, own string) string {
		return own + "\n\n" + noticeLure("by calling the number in the subject")
	}); at != 5 {
		t.Errorf("a number after the subject's 200th byte: found at account %d, want 5", at)
	}
	for text, want := range map[string]bool{
		"at secure-login[.]phish[.]com today": true,
		"at secure-login(dot)phish(dot)com":   true,
		"write to desk(at)help.example":       true,
		"write to desk [at] help [.] example": false, // spaced: no name
		"the hall (at the back) is open":      false,
		"at secure-login。phish。com":           true, // UTS #46's full stops
		"at secure-login．phish．com":           true,
	} {
		if got := hasPayload(text); got != want {
			t.Errorf("hasPayload(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestReviewNoticeLanguages: twelve organisations, each with its own
// login domain or a consumer login, writing their own news under one
// German or French opt-in notice: no campaign. Before, 8 held and all
// 12 suspended in each. The same notice over a lure with a link is
// still found at the 5th account.
func TestReviewNoticeLanguages(t *testing.T) {
	notices := map[string]string{
		"german": "Copyright 2026 Alle Rechte vorbehalten. Sie erhalten diese E-Mail, weil Sie sich auf unserer Webseite für den Newsletter angemeldet haben. " +
			"Unsere Postanschrift finden Sie im Impressum auf unserer Webseite. Möchten Sie diese E-Mails nicht mehr erhalten? Sie können Ihre Einstellungen ändern oder den Newsletter jederzeit abbestellen, " +
			"und wir respektieren Ihre Entscheidung sofort und ohne weitere Fragen. Hinweise zum Datenschutz finden Sie ebenfalls auf unserer Webseite.",
		"french": "Copyright 2026 Tous droits réservés. Vous recevez cet e-mail parce que vous vous êtes inscrit sur notre site ou lors de l'un de nos événements. " +
			"Notre adresse postale figure sur notre site. Vous souhaitez changer la façon dont vous recevez ces e-mails ? Vous pouvez modifier vos préférences ou vous désinscrire " +
			"de cette liste à tout moment, et nous respecterons votre choix immédiatement sans poser de questions.",
	}
	for lang, notice := range notices {
		for _, consumer := range []bool{false, true} {
			r := newRig(t)
			rng := rand.New(rand.NewPCG(2828, 7))
			for i := range 12 {
				r.now = r.now.Add(20 * time.Second)
				account := fmt.Sprintf("news@org%d.example", i)
				if consumer {
					account = fmt.Sprintf("club%d@isp.example", i)
				}
				rcpt := fmt.Sprintf("member%d@remote%d.example", i, i)
				raw := []byte(fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: News %d\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n\n%s\n",
					account, rcpt, i, ownText(rng, 40), notice))
				tx := transaction(t, account, []string{rcpt}, raw)
				v, err := r.commit(context.Background(), tx)
				if err != nil {
					t.Fatal(err)
				}
				if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
					t.Errorf("%s, consumer %v: organisation %d %s %s", lang, consumer, i, v.Action, v.Reason)
					break
				}
			}
		}
		if at := lureAt(t, 6, plainSubject, "text/plain; charset=utf-8", func(i int, own string) string {
			return own + " Bitte bestätigen Sie Ihr Postfach: https://secure-login.phish.example/v?u=" + fmt.Sprint(i) + "\n\n" + notice
		}); at != 5 {
			t.Errorf("%s notice over a lure: found at account %d, want 5", lang, at)
		}
	}
}

// TestReviewNoticeAttribute: the lure's link only in an attribute a
// reader sees (an image's alt text, there being no image; a tooltip) is
// something to act on: found at the 5th account. Before, in neither
// of 12.
func TestReviewNoticeAttribute(t *testing.T) {
	for name, at := range map[string]string{
		"alt":   `at the address shown here <img alt="secure-login.phish.com/verify">`,
		"title": `at the <span title='secure-login.phish.com/verify'>page in the tooltip</span>`,
	} {
		if n := lureAt(t, 7, plainSubject, "text/html", func(i int, own string) string {
			return "<p>" + own + "</p><p>" + noticeLure(at) + "</p>"
		}); n != 5 {
			t.Errorf("%s: found at account %d, want 5", name, n)
		}
	}
}

// TestReviewNoticeOwnAddress: twelve organisations, each with its own
// login domain, giving an address at that domain ("Questions? Write to
// info@org3.example", in text or as an HTML mailto: link) over one
// shared notice are no campaign; writing there is writing back to the
// sender, as a reply is. Before, 8 held and all 12 suspended. An
// address elsewhere, from consumer logins or from organisations'
// logins, keeps the notice the sender's text: found at the 5th account.
func TestReviewNoticeOwnAddress(t *testing.T) {
	for _, html := range []bool{false, true} {
		r := newRig(t)
		rng := rand.New(rand.NewPCG(2828, 8))
		for i := range 12 {
			r.now = r.now.Add(20 * time.Second)
			account := fmt.Sprintf("news@org%d.example", i)
			rcpt := fmt.Sprintf("member%d@remote%d.example", i, i)
			ct, body := "text/plain", fmt.Sprintf("%s Questions? Write to info@org%d.example.\n\n%s", ownText(rng, 40), i, optInNotice)
			if html {
				ct, body = "text/html", fmt.Sprintf(`<p>%s Questions? <a href="mailto:info@org%d.example">Write to us</a>.</p><p>%s</p>`, ownText(rng, 40), i, optInNotice)
			}
			raw := []byte(fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: News %d\nMIME-Version: 1.0\nContent-Type: %s\n\n%s\n", account, rcpt, i, ct, body))
			tx := transaction(t, account, []string{rcpt}, raw)
			v, err := r.commit(context.Background(), tx)
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
				t.Fatalf("html %v: organisation %d %s %s", html, i, v.Action, v.Reason)
			}
		}
	}
	// From consumer logins (isp.example is shared): anybody's address.
	if at := lureAt(t, 10, plainSubject, "text/plain", func(i int, own string) string {
		return own + "\n\n" + noticeLure("by writing to desk@collector.com")
	}); at != 5 {
		t.Errorf("an address elsewhere: found at account %d, want 5", at)
	}
	// From organisations' logins, an address elsewhere.
	r := newRig(t)
	rng := rand.New(rand.NewPCG(28, 11))
	at := 0
	for i := range 12 {
		r.now = r.now.Add(20 * time.Second)
		account := fmt.Sprintf("staff@co%d.example", i)
		rcpt := fmt.Sprintf("victim%d@remote%d.example", i, i%7)
		raw := []byte(fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: Mailbox notice\n\n%s\n\n%s\n", account, rcpt, ownText(rng, 30), noticeLure(`by writing to <a href="mailto:desk@collector.com">our desk</a>`)))
		tx := transaction(t, account, []string{rcpt}, raw)
		if v, err := r.commit(context.Background(), tx); err != nil {
			t.Fatal(err)
		} else if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
			at = i + 1
			break
		}
	}
	if at != 5 {
		t.Errorf("from organisations, an address elsewhere: found at account %d, want 5", at)
	}
}

// TestReviewTextUnderClosing: a phishing text under a closing line
// ("Best regards," and a name, or "Thanks") after 30 random words of
// each copy's own, as one paragraph or as lines, in text or HTML, is
// the sender's text: found at the 5th account. Before, the closing
// took everything under it within 8 lines: never found in 12.
func TestReviewTextUnderClosing(t *testing.T) {
	for name, body := range map[string]func(i int, own string) string{
		"one paragraph under a closing and a name": func(i int, own string) string {
			_, _, b := phishBody(i)
			return own + "\n\nBest regards,\nJane Smith\n\n" + strings.Join(strings.Fields(b), " ")
		},
		"three lines under Thanks": func(i int, own string) string {
			_, _, b := phishBody(i)
			f := strings.Fields(b)
			return own + "\n\nThanks\n" + strings.Join(f[:len(f)/3], " ") + "\n" + strings.Join(f[len(f)/3:2*len(f)/3], " ") + "\n" + strings.Join(f[2*len(f)/3:], " ")
		},
		"html": func(i int, own string) string {
			_, _, b := phishBody(i)
			return "<p>" + own + "</p><p>Kind regards,<br>Jane</p><p>" + strings.Join(strings.Fields(b), " ") + "</p>"
		},
	} {
		ct := "text/plain"
		if name == "html" {
			ct = "text/html"
		}
		if at := lureAt(t, 12, plainSubject, ct, body); at != 5 {
			t.Errorf("%s: found at account %d, want 5", name, at)
		}
	}
	// The name, title and number under a closing are still no text.
	own := "The choir will rehearse on Tuesday evenings again from next week and would love to welcome new singers at the old church hall."
	if toks := Normalize(own+"\n\nBest regards,\nJane Smith\nSecretary, Riverside Choir\nTel. 030 1234 5678", false, nil); slices.Contains(toks, "jane") || slices.Contains(toks, "secretary") {
		t.Errorf("the signature under the closing is text: %q", toks)
	}
}
