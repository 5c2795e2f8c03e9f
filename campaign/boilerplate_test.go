package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// The shared boilerplate of reviewer rv28's report: an opt-in notice
// many organisations append verbatim to their own text, as one
// paragraph (64 words) and as lines.
var optInNotice, optInLines = hamgen.SharedNotices[0], hamgen.SharedNotices[1]

// ownText is n words of an organisation's own text, in sentences.
func ownText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i += 10 {
		b.WriteString(junk(rng, min(10, n-i)) + ". ")
	}
	return strings.TrimSpace(b.String())
}

// boilerplateMessage is organisation i's message: its own text with the
// notice under it (or above it), in text or HTML.
func boilerplateMessage(i int, own, notice string, atStart, html bool) (account, rcpt string, raw []byte) {
	account = fmt.Sprintf("news@org%d.example", i)
	rcpt = fmt.Sprintf("member%d@remote%d.example", i, i)
	body := own + "\n\n" + notice
	if atStart {
		body = notice + "\n\n" + own
	}
	ct := "text/plain"
	if html {
		ct = "text/html"
		var ps []string
		for _, p := range strings.Split(body, "\n\n") {
			ps = append(ps, "<p>"+strings.ReplaceAll(strings.TrimSpace(p), "\n", "<br>")+"</p>")
		}
		body = `<html><body><div style="font-family:Arial">` + strings.Join(ps, "") + "</div></body></html>"
	}
	raw = []byte(fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: News from us %d\nMIME-Version: 1.0\nContent-Type: %s; charset=utf-8\n\n%s\n", account, rcpt, i, ct, body))
	return account, rcpt, raw
}

// TestSharedBoilerplate: twelve organisations (each its own login
// domain) each send their own text of 25, 60 or 150 words with one shared
// opt-in notice (one paragraph or lines, under or above the text, in
// text or HTML) within minutes: no campaign, nobody held or suspended,
// though each message is fingerprinted. Before: 8 of 12 held and
// suspended (reviewer rv28).
func TestSharedBoilerplate(t *testing.T) {
	if n := len(strings.Fields(optInNotice)); n != 64 {
		t.Fatalf("the notice has %d words", n)
	}
	for _, own := range []int{25, 60, 150} {
		for notice, text := range map[string]string{"paragraph": optInNotice, "lines": optInLines} {
			for _, atStart := range []bool{false, true} {
				for _, html := range []bool{false, true} {
					name := fmt.Sprintf("%d words, %s, start %v, html %v", own, notice, atStart, html)
					t.Run(name, func(t *testing.T) {
						r := newRig(t)
						rng := rand.New(rand.NewPCG(28, uint64(own)))
						for i := range 12 {
							r.now = r.now.Add(20 * time.Second)
							account, rcpt, raw := boilerplateMessage(i, ownText(rng, own), text, atStart, html)
							if i == 0 {
								if fp := fingerprintOf(t, []string{rcpt}, raw); len(fp.Text) == 0 {
									t.Fatal("not fingerprinted")
								}
							}
							tx := transaction(t, account, []string{rcpt}, raw)
							v, err := r.commit(context.Background(), tx)
							if err != nil {
								t.Fatal(err)
							}
							if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
								t.Fatalf("organisation %d: %s %s %v", i, v.Action, v.Reason, tx.Stamps())
							}
						}
						cs, _ := r.store.Campaigns(context.Background(), time.Time{}, 10)
						sus, _ := r.store.Suspensions(context.Background())
						if len(cs) != 0 || len(sus) != 0 {
							t.Fatalf("%d campaigns, %d suspended", len(cs), len(sus))
						}
					})
				}
			}
		}
	}
}

// phishNotice is the phishing text written as an opt-in notice: every
// sentence names a boilerplate term, the link (link "" for none) in it.
func phishNotice(link string) string {
	at := "at the link above"
	if link != "" {
		at = "at " + link
	}
	return "You are receiving this email because you signed up for our mailbox service. As a subscriber, your mailbox storage is full and your account " +
		"will be closed within 24 hours unless you verify it. To keep receiving these emails, update your account " + at + " and confirm your password. " +
		"Copyright 2026 Mail Team, all rights reserved. You can update your preferences or unsubscribe from this list at any time."
}

// TestSharedBoilerplateNoEvasion: what cuts the shared notice does not
// hide a run (found at the 5th account, the example config's
// campaign.accounts): the phishing text written as the notice, its link
// in it, under or over 30 random words of each copy's own, in text and in
// HTML; the phishing sentences inside the real notice; the real notice
// under the phishing text or above it; the notice-shaped text without a
// link under random words that hold it; the link only in the HTML
// alternative, or in another part; a phone number to call instead of a
// link.
func TestSharedBoilerplateNoEvasion(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 15))
	link := func(i int) string {
		return fmt.Sprintf("https://secure-login.phish.example/verify?u=%x", uint64(i)*0x9e3779b97f4a7c15)
	}
	hdr := func(i int, ct string) (string, string) {
		rcpt := fmt.Sprintf("victim%d@remote%d.example", i, i%7)
		return rcpt, "From: Mail Team <team@isp.example>\nTo: <" + rcpt + ">\nSubject: Mailbox notice\nMIME-Version: 1.0\nContent-Type: " + ct + "\n\n"
	}
	inner := strings.Replace(optInNotice, "Our mailing address is on our website.",
		"As a subscriber, your mailbox storage is full and your account will be closed within 24 hours unless you verify it. "+
			"To keep receiving these emails, update your account at %s and confirm your password.", 1)
	for name, body := range map[string]func(i int) (subject, ct, body string){
		"notice-shaped, padding above": func(i int) (string, string, string) {
			return "", "text/plain", ownText(rng, 30) + "\n\n" + phishNotice(link(i))
		},
		"notice-shaped, padding below": func(i int) (string, string, string) {
			return "", "text/plain", phishNotice(link(i)) + "\n\n" + ownText(rng, 30)
		},
		"notice-shaped in HTML, padding above": func(i int) (string, string, string) {
			return "", "text/html", "<html><body><p>" + ownText(rng, 30) + "</p><p>" + strings.Replace(phishNotice(link(i)), link(i), `<a href="`+link(i)+`">this page</a>`, 1) + "</p></body></html>"
		},
		"inside the real notice, padding above": func(i int) (string, string, string) {
			return "", "text/plain", ownText(rng, 30) + "\n\n" + fmt.Sprintf(inner, link(i))
		},
		"real notice under the phish": func(i int) (string, string, string) {
			_, _, b := phishBody(i)
			return "", "text/plain", b + "\n\n" + optInNotice
		},
		"real notice under the phish, one line": func(i int) (string, string, string) {
			_, _, b := phishBody(i)
			return "", "text/plain", strings.ReplaceAll(b, "\n", " ") + " " + optInNotice
		},
		"real notice above the phish": func(i int) (string, string, string) {
			_, _, b := phishBody(i)
			return "", "text/plain", optInNotice + "\n\n" + b
		},
		"no link in it, the link in the padding": func(i int) (string, string, string) {
			return "", "text/plain", ownText(rng, 15) + " " + link(i) + " " + ownText(rng, 15) + "\n\n" + phishNotice("")
		},
		"no link in the text part, one in the HTML part": func(i int) (string, string, string) {
			pad := ownText(rng, 30)
			return "", "multipart/alternative; boundary=zz", "--zz\nContent-Type: text/plain\n\n" + pad + "\n\n" + phishNotice("") +
				"\n--zz\nContent-Type: text/html\n\n<html><body><p>" + pad + "</p><p>" + phishNotice("") + ` <a href="` + link(i) + `">Verify</a></p></body></html>` + "\n--zz--\n"
		},
		"no link in its part, one in another part": func(i int) (string, string, string) {
			return "", "multipart/mixed; boundary=zz", "--zz\nContent-Type: text/plain\n\n" + ownText(rng, 30) + "\n\n" + phishNotice("") +
				"\n--zz\nContent-Type: text/plain\n\nVerify: " + link(i) + "\n--zz--\n"
		},
		// A list's footer in density (cutFooter's bound), its link in
		// a sentence asking to act.
		"list-footer-shaped, padding above": func(i int) (string, string, string) {
			return "", "text/plain", ownText(rng, 30) + "\n\nYou are receiving this newsletter because your mailbox subscription is ending. " +
				"To keep receiving this mail, verify your account now at " + link(i) + " and confirm your password. " +
				"Update your preferences or unsubscribe from closure notices at any time."
		},
		"a number to call": func(i int) (string, string, string) {
			return "", "text/plain", ownText(rng, 30) + "\n\n" + strings.Replace(phishNotice(""), "at the link above", "by calling our subscriber line on +1 (800) 555-0199", 1)
		},
		// What to act on outside the text: a number to call in the
		// subject, an attached document.
		"a number to call in the subject": func(i int) (string, string, string) {
			return "Mailbox full: call +1 (800) 555-0199", "text/plain", ownText(rng, 30) + "\n\n" + phishNotice("")
		},
		"an attachment": func(i int) (string, string, string) {
			return "", "multipart/mixed; boundary=zz", "--zz\nContent-Type: text/plain\n\n" + ownText(rng, 30) + "\n\n" + phishNotice("") +
				"\n--zz\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=mailbox.pdf\n\n" + strings.Repeat("%PDF-1.4 verify your mailbox\n", 40) + "--zz--\n"
		},
	} {
		t.Run(name, func(t *testing.T) {
			at := foundAt(t, 20, func(i int) (string, []byte) {
				subject, ct, b := body(i)
				rcpt, h := hdr(i, ct)
				if subject != "" {
					h = strings.Replace(h, "Subject: Mailbox notice", "Subject: "+subject, 1)
				}
				return rcpt, []byte(h + b + "\n")
			})
			if at != 5 {
				t.Fatalf("found at account %d, want 5", at)
			}
		})
	}
}

// TestBoilerplateCut: the notice is cut within its bounds (boilerplateMin
// to boilerplateMax words, each sentence at most boilerplateSentence words
// and naming a term, at most boilerplateFragment words of lines without
// one, an unsubscribe term and another, MinWords of the sender's own
// left, no payload in the text); outside them it is text.
func TestBoilerplateCut(t *testing.T) {
	own := "The choir will rehearse on Tuesday evenings again from next week and would love to welcome new singers at the old church hall."
	notice := optInNotice
	// Its last sentence of 24 words made 31.
	long := strings.Replace(notice, "without asking further questions.", "without asking any further questions of you or of anyone else.", 1)
	for name, c := range map[string]struct {
		text string
		cut  bool
	}{
		"under the text":       {own + "\n\n" + notice, true},
		"over the text":        {notice + "\n\n" + own, true},
		"lines under the text": {own + "\n\n" + optInLines, true},
		"both":                 {notice + "\n\n" + own + "\n\n" + optInLines, true},
		"in one line with it":  {own + " " + notice, true},
		"html":                 {"<p>" + own + "</p><p>" + notice + "</p>", true}, "html, &nbsp; after its full stops": {"<p>" + own + "</p><p>" + strings.ReplaceAll(notice, ". ", ".&nbsp; ") + "</p>", true},

		// boilerplateMax: 150 words, not one more.
		"150 words": {own + "\n\nCopyright 2026 all rights reserved. " + strings.Repeat("You can unsubscribe from this list. ", 24) + "Unsubscribe.", true},
		"151 words": {own + "\n\nCopyright 2026 all rights reserved. " + strings.Repeat("You can unsubscribe from this list. ", 24) + "Unsubscribe now.", false},
		// boilerplateMin: 30 words.
		"30 words": {own + "\n\nCopyright 2026 all rights reserved. " + strings.Repeat("You can unsubscribe at any time. ", 4) + "Unsubscribe.", true},
		"29 words": {own + "\n\nCopyright 2026 all rights reserved. " + strings.Repeat("You can unsubscribe at any time. ", 4), false},
		// boilerplateSentence: the last sentence of 31 words is text.
		"long sentence":        {own + "\n\n" + long, false},
		"no unsubscribe term":  {own + "\n\n" + strings.ReplaceAll(notice, "unsubscribe", "leave"), false},
		"one term":             {own + "\n\n" + strings.Repeat("Unsubscribe at any time. ", 8), false},
		"too little text left": {"Our choir sings on Tuesdays.\n\n" + notice, false},
		"a link in the text":   {own + " https://choir.example/\n\n" + notice, false},
		"an address in it":     {own + "\n\n" + strings.Replace(notice, "on our website", "choir@choir.example", 1), false},
		"a number in the text": {own + " Call 030 1234 5678.\n\n" + notice, false},
		// boilerplateFragment: 8 words of address lines, 4 more, 5 more.
		"an address of 12 words": {own + "\n\n" + strings.Replace(optInLines, "Springfield 12345", "Springfield 12345\nUnited States of America", 1), true},
		"an address of 13 words": {own + "\n\n" + strings.Replace(optInLines, "Springfield 12345", "Springfield 12345\nThe United States of America", 1), false},
	} {
		html := strings.HasPrefix(c.text, "<p>")
		toks := Normalize(c.text, html, nil)
		if got := !slices.ContainsFunc(toks, func(w string) bool { return w == "rights" || w == "unsubscribe" || w == "receiving" }); got != c.cut {
			t.Errorf("%s: cut %v, want %v: %q", name, got, c.cut, toks)
		}
		if !slices.Contains(toks, "choir") {
			t.Errorf("%s: the text was cut: %q", name, toks)
		}
	}
}

// TestHamSharedBoilerplate: the generated corpus's organisations
// appending a shared notice (hamgen's "boilerplate" kind) are enough to
// be a campaign without the boilerplate cut: some 15 minutes hold
// campaign.accounts (5) organisations and more sending one notice with
// no link (which would keep it). The ham measurement (TestHamCorpus)
// covers the case.
func TestHamSharedBoilerplate(t *testing.T) {
	corpus := hamgen.Corpus(28, 6000, time.Hour)
	slicesSortByAt(corpus)
	most := 0
	for n, notice := range hamgen.SharedNotices {
		var sent []hamgen.Message
		for _, m := range corpus {
			if m.Kind == "boilerplate" && strings.Contains(string(m.Raw), notice[:30]) && !strings.Contains(string(m.Raw), "://") {
				sent = append(sent, m)
			}
		}
		for i := range sent {
			orgs := map[string]bool{}
			for j := i; j < len(sent) && sent[j].At-sent[i].At < 15*time.Minute; j++ {
				orgs[sent[j].Account] = true
			}
			most = max(most, len(orgs))
		}
		t.Logf("notice %d: %d messages", n, len(sent))
	}
	if most < 5 {
		t.Fatalf("at most %d organisations sent one notice within 15 minutes", most)
	}
	t.Logf("up to %d organisations sent one notice within 15 minutes", most)
}

// TestPayload: what keeps a notice the sender's text, at its bounds: a
// number of 9 digits (not 8), grouped by up to 2 separators (not 3), a
// time's hour not counted; a bare domain under a real top-level domain;
// an HTML link, image, form or stylesheet image (not a fragment link).
func TestPayload(t *testing.T) {
	for text, want := range map[string]bool{
		"call 0800 123 45 now":             true,
		"call 0800 123 4 now":              false,
		"call +1 (800) 555-0199":           true,
		"account 12345- 6789":              true,
		"account 12345 - 6789":             false,
		"on 30.11.2026 10:00 in the hall":  false,
		"on 30.11.2026 1000 in the hall":   true,
		"at secure-login.example.com/v?x":  true,
		"(see secure-login.example.com).":  true,
		"e.g. the hall, i.e. the old one.": false,
		"version 3.5 of the rules":         false,
		"at www.example today":             true,
		"at секьюр-логин.рф/вход today":    true,
		"write to desk@help.example":       true,
		"at https://x.example/":            true,
		"nothing to act on, thank you.":    false,
	} {
		if got := hasPayload(text); got != want {
			t.Errorf("hasPayload(%q) = %v, want %v", text, got, want)
		}
	}
	for doc, want := range map[string]bool{
		`<a href="#top">top</a>`:                             false,
		`<a href="">x</a><p style="color:red">y</p>`:         false,
		`<img src="cid:qr-code">`:                            true,
		`<img alt=x SRC = data:image/png;base64,AAAA>`:       true,
		`<map><area href=https://x.example/></map>`:          true,
		"<map><area\nhref\n=\n\"https://x.example/\"></map>": true,
		`<form action="/login"><input></form>`:               true,
		`<div style="background-image: URL('qr.png')">`:      true,
		`<p>take action = now, href is a word</p>`:           false,
	} {
		if got := htmlPayload(doc); got != want {
			t.Errorf("htmlPayload(%q) = %v, want %v", doc, got, want)
		}
	}
}
