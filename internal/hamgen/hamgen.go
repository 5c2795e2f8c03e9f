// Package hamgen generates ordinary mail, the ham that the campaign check
// (campaign/) must never take for a campaign: thousands of varied
// messages from many accounts, many of them short ("Thanks!", "See you
// tomorrow"), replies quoting what they answer, standard signatures and
// disclaimers shared by a company's staff, meeting invitations, one
// account's newsletter to many recipients, automatic notices of one
// template from one account, organisations each sending their own news
// under one shared opt-in notice, HTML alternatives. It is deterministic for a
// seed, so a failure can be replayed; the corpus is generated, not
// committed.
package hamgen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Message is one generated message, as a customer's client submits it.
type Message struct {
	Account string
	From    string
	Rcpts   []string
	Raw     []byte
	Kind    string        // what generator made it, for failures
	At      time.Duration // from the corpus' start
}

var (
	firstNames = []string{"Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karin", "Lukas", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sven", "Tara", "Uwe", "Vera", "Walter", "Xenia", "Yusuf", "Zoe", "Maria", "Peter", "Laura", "Tom", "Sophie"}
	lastNames  = []string{"Smith", "Miller", "Schmidt", "Meyer", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Brown", "Jones", "Garcia", "Martin", "Lee", "Walker", "Young"}
	shortMsgs  = []string{"Thanks!", "See you tomorrow", "Sounds good.", "Ok, thanks", "Great, thank you!", "Will do.", "Perfect, see you then.", "Got it, thanks.", "Yes, that works for me.", "No problem!", "Thank you very much!", "Congratulations!", "Happy birthday!", "I'll call you later.", "Running 10 minutes late, sorry.", "Can we move it to 3pm?", "Received, thanks.", "Looks good to me.", "Let's talk tomorrow.", "Thanks for the update!", "Agreed.", "See attached.", "Call me when you can.", "On my way.", "Sure, no problem. See you on Monday then."}
	common     = []string{"Please let me know if you have any questions.", "Thank you for your help.", "Looking forward to hearing from you.", "Have a great weekend.", "Sorry for the late reply.", "I hope this email finds you well.", "Please find attached the document you requested.", "Let me know what you think.", "Thanks again for everything.", "I will get back to you as soon as possible.", "Please do not hesitate to contact me if you need anything else.", "Thank you for your quick response.", "I hope you are doing well.", "Let me know if this works for you.", "Have a nice day."}
	subjects   = []string{"I", "We", "My sister", "The kids", "Our team", "The landlord", "My boss", "The plumber", "Grandma", "The club", "Our neighbours", "The teacher", "My colleague", "The accountant", "Everyone"}
	verbs      = []string{"will pick up", "forgot", "finally fixed", "need to check", "would love to see", "have booked", "are still waiting for", "just sent", "cannot find", "should renew", "painted", "ordered", "reviewed", "cancelled", "rescheduled", "printed", "signed", "returned", "repaired", "moved"}
	objects    = []string{"the car", "the tickets", "the heating", "the invoice", "the garden fence", "the contract", "the new laptop", "the birthday cake", "the photos from the trip", "the school forms", "the insurance papers", "the bicycle", "the kitchen window", "the holiday flat", "the quarterly report", "the guest list", "the recipe", "the shelf in the hallway", "the train tickets", "the tax return", "the dentist appointment", "the concert tickets", "the spare keys", "the roof gutter"}
	whens      = []string{"tomorrow morning", "next week", "on Saturday", "before the holidays", "after lunch", "this evening", "by Friday", "in two weeks", "at the weekend", "later today", "on Monday", "before the meeting", "next month", "after school", "around noon"}
	extras     = []string{"because the weather looks bad", "if you have time", "as we discussed", "since the shop closes early", "unless something comes up", "so we can plan the rest", "which took longer than expected", "and it was cheaper than last year", "but I am not sure about the colour", "so please remind me", "while you are away", "before it gets too late", "as the old one broke", "just in case", "like last time"}
	companies  = []string{"acme-consulting.example", "mueller-bau.example", "praxis-weber.example", "kanzlei-koch.example"}
	disclaimer = []string{
		"CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be legally privileged. If you are not the intended recipient, please notify the sender immediately and delete this e-mail. Any unauthorized use, disclosure or copying is strictly prohibited.",
		"Diese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Empfänger sind, informieren Sie bitte sofort den Absender und vernichten Sie diese E-Mail. Das unerlaubte Kopieren sowie die unbefugte Weitergabe dieser Mail ist nicht gestattet. This message is confidential and intended for the addressee only.",
	}
)

// Corpus generates n messages from seed, spread over span.
func Corpus(seed uint64, n int, span time.Duration) []Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	out := make([]Message, 0, n)
	// One account's newsletter and notices are sent in runs.
	for len(out) < n {
		at := time.Duration(g.r.Int64N(int64(span)))
		var batch []Message
		// Per 100 draws about 91 single messages, 37 notices, 7
		// organisations' news under a shared notice and 40 newsletter
		// copies.
		switch k := g.r.IntN(100); {
		case k < 27:
			batch = []Message{g.short()}
		case k < 53:
			batch = []Message{g.personal()}
		case k < 69:
			batch = []Message{g.business()}
		case k < 83:
			batch = []Message{g.company()}
		case k < 91:
			batch = []Message{g.invite()}
		case k < 96:
			batch = g.notices(at)
		case k < 99:
			batch = g.boilerplate(at)
		default:
			batch = g.newsletter(at, 20+g.r.IntN(40))
		}
		for i := range batch {
			if batch[i].At == 0 {
				batch[i].At = at
			}
		}
		out = append(out, batch...)
	}
	return out[:n]
}

// Newsletter is one account's newsletter to n recipients, each copy with
// the recipient's name and its own tracking links.
func Newsletter(seed uint64, n int) []Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, 7))}
	return g.newsletter(0, n)
}

type gen struct {
	r   *rand.Rand
	seq int
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *gen) person() (name, addr string) {
	f, l := g.pick(firstNames), g.pick(lastNames)
	return f + " " + l, strings.ToLower(f+"."+l) + fmt.Sprintf("%d@mail%d.example", g.r.IntN(100), g.r.IntN(40))
}

// account is one of 3000 customers.
func (g *gen) account() string { return fmt.Sprintf("customer%d@isp.example", g.r.IntN(3000)) }

func (g *gen) sentence() string {
	s := g.pick(subjects) + " " + g.pick(verbs) + " " + g.pick(objects) + " " + g.pick(whens)
	if g.r.IntN(2) == 0 {
		s += " " + g.pick(extras)
	}
	return s + "."
}

func (g *gen) paragraph(n int) string {
	var p []string
	for range n {
		p = append(p, g.sentence())
	}
	return strings.Join(p, " ")
}

func (g *gen) signature(name string) string {
	switch g.r.IntN(5) {
	case 0:
		return "\n-- \n" + name + "\nPhone: +49 30 " + fmt.Sprint(1000000+g.r.IntN(8999999)) + "\n"
	case 1:
		return "\nBest regards,\n" + name + "\n"
	case 2:
		return "\nSent from my iPhone\n"
	case 3:
		return "\nCheers,\n" + strings.Fields(name)[0] + "\n"
	}
	return "\n"
}

// quote is a reply's quoted original, the same original (a group
// thread) more than once across accounts.
func (g *gen) quote() string {
	name, addr := g.person()
	r := rand.New(rand.NewPCG(uint64(g.r.IntN(50)), 1)) // one of 50 threads
	h := &gen{r: r}
	var b strings.Builder
	fmt.Fprintf(&b, "\nOn Mon, 3 Nov 2026 at 10:%02d, %s <%s> wrote:\n", g.r.IntN(60), name, addr)
	for _, l := range strings.SplitAfter(h.paragraph(6), ". ") {
		b.WriteString("> " + l + "\n")
	}
	return b.String()
}

func (g *gen) build(kind, account, subject, text, html string, rcpts []string, toName string) Message {
	g.seq++
	var b strings.Builder
	from := account
	fmt.Fprintf(&b, "From: <%s>\r\nTo: %s <%s>\r\nSubject: %s\r\nDate: Mon, 03 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.%d@isp.example>\r\nMIME-Version: 1.0\r\n", from, toName, rcpts[0], subject, g.seq, g.r.Int64())
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n", "\r\n")
	if html == "" {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", text)
	} else {
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"b%d\"\r\n\r\n--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b%d\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--b%d--\r\n", g.seq, g.seq, text, g.seq, html, g.seq)
	}
	return Message{Account: account, From: from, Rcpts: rcpts, Raw: []byte(b.String()), Kind: kind}
}

// htmlOf is the HTML alternative a client makes of text, now and then.
func (g *gen) htmlOf(text string) string {
	if g.r.IntN(3) != 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("<html><body>")
	for _, p := range strings.Split(text, "\n\n") {
		b.WriteString("<p>" + strings.ReplaceAll(p, "\n", "<br>") + "</p>")
	}
	b.WriteString("</body></html>")
	return b.String()
}

func (g *gen) short() Message {
	name, addr := g.person()
	me, _ := g.person()
	text := g.pick(shortMsgs)
	if g.r.IntN(2) == 0 {
		text = "Hi " + strings.Fields(name)[0] + ",\n\n" + text
	}
	text += "\n" + g.signature(me)
	if g.r.IntN(2) == 0 {
		text += g.quote()
	}
	return g.build("short", g.account(), "Re: "+g.pick(objects), text, g.htmlOf(text), []string{addr}, name)
}

func (g *gen) personal() Message {
	name, addr := g.person()
	me, _ := g.person()
	text := "Dear " + strings.Fields(name)[0] + ",\n\n" + g.paragraph(2+g.r.IntN(5)) + "\n\n" + g.paragraph(1+g.r.IntN(3)) + "\n" + g.signature(me)
	return g.build("personal", g.account(), "About "+g.pick(objects), text, g.htmlOf(text), []string{addr}, name)
}

// business is mostly the phrases everybody writes, around a little of
// its own.
func (g *gen) business() Message {
	name, addr := g.person()
	me, _ := g.person()
	parts := []string{g.pick(common), g.sentence(), g.pick(common)}
	if g.r.IntN(2) == 0 {
		parts = append(parts, g.pick(common), g.pick(common))
	}
	text := "Hello " + strings.Fields(name)[0] + ",\n\n" + strings.Join(parts, " ") + "\n" + g.signature(me)
	if g.r.IntN(3) == 0 {
		text += g.quote()
	}
	return g.build("business", g.account(), "Re: "+g.pick(objects), text, g.htmlOf(text), []string{addr}, name)
}

// company is a message of one of a few companies' staff (eight accounts
// each), all with the company's disclaimer and signature block.
func (g *gen) company() Message {
	c := g.r.IntN(len(companies))
	name, addr := g.person()
	me, _ := g.person()
	account := fmt.Sprintf("staff%d@%s", g.r.IntN(8), companies[c])
	body := g.pick(shortMsgs)
	if g.r.IntN(2) == 0 {
		body = g.paragraph(1 + g.r.IntN(3))
	}
	text := "Hi " + strings.Fields(name)[0] + ",\n\n" + body + "\n\nKind regards\n" + me + "\n" + companies[c] + " GmbH | Hauptstrasse 1 | 10115 Berlin | Tel +49 30 1234567\n\n" + disclaimer[c%len(disclaimer)] + "\n"
	return g.build("company", account, "Re: "+g.pick(objects), text, g.htmlOf(text), []string{addr}, name)
}

func (g *gen) invite() Message {
	name, addr := g.person()
	me, _ := g.person()
	id := fmt.Sprint(80000000000 + g.r.Int64N(9999999999))
	var text string
	if g.r.IntN(2) == 0 {
		text = me + " is inviting you to a scheduled Zoom meeting.\n\nTopic: " + g.pick(objects) + "\nTime: Nov 4, 2026 10:00 AM Berlin\n\nJoin Zoom Meeting\nhttps://us02web.zoom.us/j/" + id + "?pwd=" + fmt.Sprint(g.r.Int64()) + "\n\nMeeting ID: " + id + "\nPasscode: " + fmt.Sprint(g.r.IntN(999999)) + "\n\n---\n\nOne tap mobile\n+496971049922,," + id + "# Germany\n+493056795800,," + id + "# Germany\n\nDial by your location\n+49 69 7104 9922 Germany\n+49 30 5679 5800 Germany\n+1 646 558 8656 US (New York)\n\nFind your local number: https://us02web.zoom.us/u/abc" + fmt.Sprint(g.r.IntN(9999)) + "\n"
	} else {
		text = g.sentence() + "\n\n________________________________________________________________________________\nMicrosoft Teams meeting\nJoin on your computer, mobile app or room device\nClick here to join the meeting<https://teams.microsoft.com/l/meetup-join/19%3ameeting_" + fmt.Sprint(g.r.Int64()) + ">\nMeeting ID: " + id + "\nPasscode: abc" + fmt.Sprint(g.r.IntN(999)) + "\nDownload Teams<https://www.microsoft.com/en-us/microsoft-teams/download-app> | Join on the web<https://www.microsoft.com/microsoft-teams/join-a-meeting>\nLearn More<https://aka.ms/JoinTeamsMeeting> | Meeting options<https://teams.microsoft.com/meetingOptions/>\n________________________________________________________________________________\n"
	}
	return g.build("invite", g.account(), "Invitation: "+g.pick(objects), text, "", []string{addr}, name)
}

// notices are one account's automatic notices (a shop's order
// confirmations, a club's reminders): one template, many recipients,
// numbers and names changing. The account is one of 40 such senders.
func (g *gen) notices(at time.Duration) []Message {
	shop := g.r.IntN(40)
	account := fmt.Sprintf("noreply@shop%d.example", shop)
	var out []Message
	for i := range 3 + g.r.IntN(10) {
		name, addr := g.person()
		order := 100000 + g.r.IntN(900000)
		// Each shop's template is its own (shops on one shop software
		// send one template: docs/suspension.md says what then).
		own := &gen{r: rand.New(rand.NewPCG(uint64(shop), 4))}
		text := fmt.Sprintf("Dear %s,\n\nthank you for your order %d. We have received your payment of %d.%02d EUR. %s You can follow your parcel at https://shop%d.example/track/%d?token=%x at any time.\n\nYour shop team\n",
			name, order, g.r.IntN(300), g.r.IntN(100), own.paragraph(3), shop, order, g.r.Int64())
		m := g.build("notice", account, fmt.Sprintf("Your order %d", order), text, g.htmlOf(text), []string{addr}, name)
		m.At = at + time.Duration(i)*time.Second
		out = append(out, m)
	}
	return out
}

func (g *gen) newsletter(at time.Duration, n int) []Message {
	club := g.r.IntN(1000)
	account := fmt.Sprintf("newsletter@club%d.example", club)
	// Each club writes its own newsletter (the same text from two clubs
	// would be a campaign).
	own := &gen{r: rand.New(rand.NewPCG(uint64(club), 3))}
	body := "Here is what happened in our club this month. " + own.paragraph(6)
	var out []Message
	for i := range n {
		name, addr := g.person()
		tok := fmt.Sprintf("%x", g.r.Int64())
		text := fmt.Sprintf("Dear %s,\n\n%s\n\nRead more: https://club%d.example/news?u=%s\nUnsubscribe: https://club%d.example/unsubscribe?u=%s\n", name, body, club, tok, club, tok)
		m := g.build("newsletter", account, "Club news", text, g.htmlOf(text), []string{addr}, name)
		m.At = at + time.Duration(i)*100*time.Millisecond
		out = append(out, m)
	}
	return out
}

// SharedNotices are opt-in notices that many organisations append
// verbatim to their own news (a newsletter template's default): one
// paragraph of 64 words, lines with an address, a short one.
var SharedNotices = []string{
	"Copyright 2026 All rights reserved. You are receiving this email because you opted in via our website or signed up at one of our events. " +
		"Our mailing address is on our website. Want to change how you receive these emails? You can update your preferences or unsubscribe " +
		"from this list at any time, and we will respect your choice immediately without asking further questions.",
	"Copyright (C) 2026 Riverside Garden Club. All rights reserved.\nYou are receiving this email because you opted in via our website.\n\n" +
		"Our mailing address is:\nRiverside Garden Club\n12 Elm Street\nSpringfield 12345\n\nWant to change how you receive these emails?\n" +
		"You can update your preferences or unsubscribe from this list.",
	"This newsletter was sent to you because you subscribed on our website. We respect your privacy and never share your email address. " +
		"If you no longer wish to receive these emails, you can unsubscribe at any time.",
}

// boilerplate is one organisation's news to a few members with one of
// SharedNotices under it or above it: each organisation (one of 300,
// its own login domain) writes its own news (four to seven sentences, as
// long as a personal letter: longer texts of this generator's few words
// share runs by chance), the notice is the same from all; a quarter link
// their own site. Two of three carry one more thing of their own, by
// the organisation (its number modulo 9, no draw of g's: the rest of the
// corpus stays as it was): its PayPal donate button, Eventbrite event,
// Google Maps link, a cid: logo, an inline image or an attached PDF.
func (g *gen) boilerplate(at time.Duration) []Message {
	org := g.r.IntN(300)
	account := fmt.Sprintf("news@org%d.example", org)
	news := g.paragraph(4 + g.r.IntN(4))
	if g.r.IntN(4) == 0 {
		news += fmt.Sprintf("\n\nRead more: https://org%d.example/news", org)
	}
	var part string
	related := false
	switch org % 9 {
	case 0:
		news += fmt.Sprintf("\n\nSupport our work: https://www.paypal.com/donate/?hosted_button_id=ORG%dQ7X&source=newsletter", org)
	case 1:
		news += fmt.Sprintf("\n\nTickets for our autumn fair: https://www.eventbrite.de/e/org-%d-autumn-fair-tickets-%d?aff=oddtdtcreator", org, 800000000+org*7919)
	case 2:
		news += fmt.Sprintf("\n\nHow to find us: https://maps.app.goo.gl/Or%dg%dQx", org, org*31)
	case 3, 4:
		related = org%9 == 3
		disp := "inline"
		if related {
			disp = fmt.Sprintf("inline\r\nContent-ID: <logo@org%d.example>", org)
		}
		part = fmt.Sprintf("Content-Type: image/png; name=logo.png\r\nContent-Disposition: %s; filename=logo.png\r\nContent-Transfer-Encoding: base64\r\n\r\n%s", disp, ownBytes("\x89PNG\r\n\x1a\n", org))
	case 5:
		part = fmt.Sprintf("Content-Type: application/pdf; name=programme.pdf\r\nContent-Disposition: attachment; filename=programme.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n%s", ownBytes("%PDF-1.4\n", org))
	}
	notice := SharedNotices[g.r.IntN(len(SharedNotices))]
	text := news + "\n\n" + notice
	if g.r.IntN(3) == 0 {
		text = notice + "\n\n" + news
	}
	var out []Message
	for i := range 1 + g.r.IntN(4) {
		name, addr := g.person()
		body := "Dear " + strings.Fields(name)[0] + ",\n\n" + text + "\n"
		html := g.htmlOf(body)
		if related {
			html = fmt.Sprintf(`<html><body><img src="cid:logo@org%d.example" alt="Logo"><p>%s</p></body></html>`, org, strings.ReplaceAll(body, "\n", "<br>"))
		}
		m := g.build("boilerplate", account, "News from our association", body, html, []string{addr}, name)
		if part != "" {
			m.Raw = withPart(m.Raw, part, related, i)
		}
		m.At = at + time.Duration(i)*time.Second
		out = append(out, m)
	}
	return out
}

// ownBytes is organisation org's own file (its logo, its programme): a
// magic and 600 bytes of its own, base64 in lines of 76.
func ownBytes(magic string, org int) string {
	r := rand.New(rand.NewPCG(uint64(org), 9))
	b := []byte(magic)
	for range 600 {
		b = append(b, byte(r.UintN(256)))
	}
	enc := base64.StdEncoding.EncodeToString(b)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	return strings.Join(append(lines, enc), "\r\n")
}

// withPart is raw (a message build made) with part after its body: in a
// multipart/related (the HTML's image by its Content-ID) or mixed.
func withPart(raw []byte, part string, related bool, n int) []byte {
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	i := strings.Index(head, "Content-Type: ")
	inner := head[i:] // the body's Content-Type (and encoding)
	kind := "mixed"
	if related {
		kind = "related"
	}
	return []byte(fmt.Sprintf("%sContent-Type: multipart/%s; boundary=\"part%d\"\r\n\r\n--part%d\r\n%s\r\n\r\n%s\r\n--part%d\r\n%s\r\n--part%d--\r\n",
		head[:i], kind, n, n, inner, body, n, part, n))
}

const phishText = `We detected unusual sign-in activity on your mailbox from an unrecognized device.
To keep your account secure, your access will be suspended within 24 hours unless you verify your identity.
Please confirm your account details using the secure link below, and review the recent activity on your account.

Verify now: %s

If you do not complete the verification, incoming messages may be delayed or deleted permanently.
Thank you for helping us keep your account safe.

IT Service Desk`

// Phish is copy i of the attack, the same phishing text sent through many
// stolen accounts: each copy has the recipient's name in the greeting and the To
// header, a tracking token and the recipient's number in the link, a
// reference number, and (html) an HTML alternative.
func Phish(i int, html bool) (rcpt string, raw []byte) {
	name := firstNames[i%len(firstNames)] + " " + []string{"Smith", "Meyer", "Koch", "Lee"}[i%4]
	rcpt = strings.ToLower(strings.ReplaceAll(name, " ", ".")) + fmt.Sprintf("%d@victim%d.example", i, i%7)
	link := fmt.Sprintf("https://secure-login.phish.example/verify?u=%x&r=%d", uint64(i)*0x9e3779b97f4a7c15, 1000+i)
	text := fmt.Sprintf("Dear %s,\n\nReference #%d\n\n", name, 4000+i) + fmt.Sprintf(phishText, link)
	var b strings.Builder
	fmt.Fprintf(&b, "From: IT Service Desk <it@isp.example>\r\nTo: %s <%s>\r\nSubject: Action required: verify your mailbox, %s\r\nMIME-Version: 1.0\r\n", name, rcpt, name)
	if html {
		htmlBody := "<html><body><p>" + strings.ReplaceAll(strings.ReplaceAll(text, "\n\n", "</p><p>"), link, `<a href="`+link+`">verify</a>`) + "</p></body></html>"
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n%s\r\n--zz\r\nContent-Type: text/html\r\n\r\n%s\r\n--zz--\r\n", text, htmlBody)
	} else {
		fmt.Fprintf(&b, "Content-Type: text/plain\r\n\r\n%s\r\n", text)
	}
	return rcpt, []byte(strings.ReplaceAll(b.String(), "\r\n", "\n"))
}
