package campaign

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/mimewalk"
	"outguard/policy"
)

// newsletterShapes are a reviewer's realistic newsletters of
// organisation i (its site site, its own text own) with the shared
// opt-in notice: what each gives its readers to act on is its own (a
// newsletter provider's tracked link for its account, its phone number,
// its site, logo and address). ct is the content type.
var newsletterShapes = map[string]func(i int, site, own string) (ct, body string){
	"mailchimp tracked link, notice under": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\nRead more: " + mailchimp(i, 1) + "\n\n" + optInNotice
	},
	"mailchimp tracked link, notice over": func(i int, site, own string) (string, string) {
		return "text/plain", optInNotice + "\n\n" + own + "\n\nRead more: " + mailchimp(i, 1)
	},
	"brevo tracked link": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nRegister here: https://%x.r.sp1-brevo.net/mk/cl/f/%x\n\n", i*7919, uint64(i+1)*0x9e3779b97f4a7c15) + optInNotice
	},
	"sendinblue tracked link in html": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s <a href="https://r.sendibm1.com/mk/cl/f/%x">Register</a></p><p>%s</p></body></html>`, own, uint64(i+3)*0x9e3779b97f4a7c15, optInNotice)
	},
	"provider's unsubscribe link under the notice": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\n" + optInNotice + fmt.Sprintf("\nhttps://org%d.us5.list-manage.com/unsubscribe?u=%x&id=%x&e=%x", i, i*31337, i*17, i*104729)
	},
	"phone in the signature, notice under": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\nBest regards,\nThe board\n" + phone(i) + "\n\n" + optInNotice
	},
	"phone in the signature, notice over": func(i int, site, own string) (string, string) {
		return "text/plain", optInNotice + "\n\n" + own + "\n\nBest regards,\nThe board\nTel. " + phone(i)
	},
	"own site's link": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\nMore on https://www." + site + "/news\n\n" + optInNotice
	},
	"own site's link in html": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s <a href="https://%s/events">Our events</a></p><p>%s</p></body></html>`, own, site, optInNotice)
	},
	"own logo": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><img src="https://%s/logo.png" alt="Logo"><p>%s</p><p>%s</p></body></html>`, site, own, optInNotice)
	},
	"unsubscribe link on its own site": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\n" + optInNotice + "\nUnsubscribe: https://" + site + "/unsubscribe?m=" + fmt.Sprint(i*977)
	},
	"own address": func(i int, site, own string) (string, string) {
		return "text/plain", own + " Questions? Write to info@" + site + ".\n\n" + optInNotice
	},
	"own address as mailto": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s <a href="mailto:info@%s">Write to us</a>.</p><p>%s</p></body></html>`, own, site, optInNotice)
	},
	"provider's badge under the notice": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\n" + optInNotice + fmt.Sprintf("\nhttps://mailchimp.com/monkey-rewards/?utm_source=freemium_newsletter&aid=%x&afl=1", i*31337+5)
	},
	"mailchimp html with its image host": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><img src="https://mcusercontent.com/%x/images/header.png"><p>%s <a href="%s">Read more</a></p><p>%s</p></body></html>`, i*31337, own, mailchimp(i, 2), optInNotice)
	},
	"phone as a tel: link in html": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s Call us: <a href="tel:%s">%s</a></p><p>%s</p></body></html>`, own, strings.ReplaceAll(phone(i), " ", ""), phone(i), optInNotice)
	},
	"signature with site, address and phone": func(i int, site, own string) (string, string) {
		return "text/plain", own + "\n\nKind regards,\nThe board\nhttps://" + site + " | info@" + site + " | " + phone(i) + "\n\n" + optInNotice
	},
}

// mailchimp is a Mailchimp tracked link of organisation i's account,
// link n, to its reader.
func mailchimp(i, n int) string {
	return fmt.Sprintf("https://org%d.us5.list-manage.com/track/click?u=%x&id=%x&e=%x", i, i*31337+1, i*17+n, i*104729+n)
}

// phone is organisation i's phone number.
func phone(i int) string { return fmt.Sprintf("+1 (555) %03d-%04d", 100+i, 1000+i*37) }

// newsletterCampaign sends organisation 0..11's newsletters of shape
// (within four minutes, each to its own member), from the organisations'
// own logins or consumer logins (isp.example is shared), and reports
// whether any was held, stamped or anybody suspended.
func newsletterCampaign(t *testing.T, shape func(i int, site, own string) (string, string), consumer bool) bool {
	r := newRig(t)
	rng := rand.New(rand.NewPCG(2828, 15))
	for i := range 12 {
		r.now = r.now.Add(20 * time.Second)
		site := fmt.Sprintf("org%d.example", i)
		account := "news@" + site
		if consumer {
			account = fmt.Sprintf("club%d@isp.example", i)
		}
		rcpt := fmt.Sprintf("member%d@remote%d.example", i, i)
		ct, body := shape(i, site, ownText(rng, 25+i*11))
		raw := []byte(fmt.Sprintf("From: <%s>\nTo: <%s>\nSubject: News %d\nMIME-Version: 1.0\nContent-Type: %s; charset=utf-8\n\n%s\n", account, rcpt, i, ct, body))
		tx := transaction(t, account, []string{rcpt}, raw)
		v, err := r.commit(context.Background(), tx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
			return true
		}
	}
	sus, _ := r.store.Suspensions(context.Background())
	return len(sus) > 0
}

// TestNoticeOwnTargets: twelve organisations' realistic newsletters (17
// shapes, from their own login domains and from consumer logins) under
// one shared opt-in notice, each pointing its readers at its own
// targets, are no campaign. Before (the notice the sender's text
// whenever the message had a payload): 26 of 34 variants held and
// every sender suspended.
func TestNoticeOwnTargets(t *testing.T) {
	var held []string
	for name, shape := range newsletterShapes {
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				held = append(held, fmt.Sprintf("%s (consumer logins %v)", name, consumer))
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d variants a campaign:\n%s", len(held), 2*len(newsletterShapes), strings.Join(held, "\n"))
	}
}

// decoys are n links to random domains of copy i's own.
func decoys(i, n int) string {
	var b strings.Builder
	for k := range n {
		fmt.Fprintf(&b, " See also https://%x.example/p%d", uint64(i*100+k+1)*0x9e3779b97f4a7c15, k)
	}
	return b.String()
}

// phishURL is copy i's link to the lure's site, its tracking token in
// the query.
func phishURL(i int) string {
	return fmt.Sprintf("https://secure-login.phish.example/verify?u=%x", uint64(i)*0x9e3779b97f4a7c15)
}

// TestNoticeTargetsNoEvasion: the lure written as the notice (noticeLure)
// under or over 30 random words of each copy's own, its target shared by
// the copies, is found at the 5th account (campaign.accounts) whatever
// else each copy points to: its link in the notice, in the padding, in
// the HTML alternative only; 1 to 14 decoy links to random domains of
// each copy's own besides it (its notice salted with each: the lure's
// link among them), 15 and more (more than maxTargets: the notice plain
// text); a number to call, written otherwise in each copy; a request for
// a reply, or replies sent elsewhere; an address at a free-mail domain;
// a provider's tracked link the same in every copy; a page on a free
// host of each copy's own (github.io: anyone's, one target).
func TestNoticeTargetsNoEvasion(t *testing.T) {
	type shape struct {
		ct    string
		extra func(i int) string
		body  func(i int, own string) string
	}
	text := func(body func(i int, own string) string) shape { return shape{"text/plain", plainSubject, body} }
	cases := map[string]shape{
		"link in the notice": text(func(i int, own string) string { return own + "\n\n" + noticeLure("at "+phishURL(i)) }),
		"link in the notice, notice over": text(func(i int, own string) string {
			return noticeLure("at "+phishURL(i)) + "\n\n" + own
		}),
		"link in the padding": text(func(i int, own string) string {
			return own + " " + phishURL(i) + "\n\n" + noticeLure("at the link above")
		}),
		"link in the html alternative only": {"multipart/alternative; boundary=zz", plainSubject, func(i int, own string) string {
			return "--zz\nContent-Type: text/plain\n\n" + own + "\n\n" + noticeLure("at our website") + "\n--zz\nContent-Type: text/html\n\n<html><body><p>" + own +
				"</p><p>" + noticeLure(`at <a href="`+phishURL(i)+`">our website</a>`) + "</p></body></html>\n--zz--\n"
		}},
		"a number to call, written otherwise per copy": text(func(i int, own string) string {
			n := []string{"+1 (800) 555-0199", "800 555 0199", "1-800-555-0199", "(800) 555 0199"}[i%4]
			return own + "\n\n" + noticeLure("by calling our subscriber line on "+n)
		}),
		"a number to call, digits run on after it per copy": text(func(i int, own string) string {
			return own + "\n\n" + noticeLure(fmt.Sprintf("by calling our subscriber line on 800 555 0199 /%d", 1000+i*37))
		}),
		"a QR code inline, digits in its data": {"text/html", plainSubject, func(i int, own string) string {
			return fmt.Sprintf(`<html><body><p>%s</p><p>%s</p><img src="data:image/png;base64,iVBORw0KGgo%09dAAAA%x"></body></html>`, own, noticeLure("by scanning the code below"), 123456789+i, i)
		}},
		"a reply asked for": text(func(i int, own string) string {
			return own + "\n\n" + noticeLure("by replying to this email with your mailbox password")
		}),
		"replies sent elsewhere": {"text/plain", func(i int) string {
			return fmt.Sprintf("Subject: Mailbox notice\nReply-To: <desk%d@collector.example>\n", i)
		}, func(i int, own string) string { return own + "\n\n" + noticeLure("by answering this email") }},
		"a free-mail address": text(func(i int, own string) string {
			return own + "\n\n" + noticeLure("by writing to mailbox.desk.team@gmail.com")
		}),
		"a provider's tracked link, the same in every copy": text(func(i int, own string) string {
			return own + "\n\n" + noticeLure("at https://mailteam.us5.list-manage.com/track/click?u=7a1f&id=33c2")
		}),
		"a free host's page of each copy's own": text(func(i int, own string) string {
			return own + "\n\n" + noticeLure(fmt.Sprintf("at https://mailbox-%d.github.io/verify", i))
		}),
	}
	for _, n := range []int{1, 3, 7, 8, 9, 13, 14, 15, 20} {
		cases[fmt.Sprintf("%d decoy links", n)] = text(func(i int, own string) string {
			return own + decoys(i, n) + "\n\n" + noticeLure("at "+phishURL(i))
		})
	}
	for name, c := range cases {
		if at := lureAt(t, 2828, c.extra, c.ct, c.body); at != 5 {
			t.Errorf("%s: found at account %d, want 5", name, at)
		}
	}
}

// TestNoticeTargetsLimits: what the targets let through, as
// docs/suspension.md says (Known limits): the lure's link through a
// newsletter provider whose link differs per copy (the recipient's
// token in it), a page of each copy's own on a social network, a
// registered domain or a free-mail address of each copy's own. Each is
// a run that points every copy to a target of its own, as organisations
// do. If one is found, the docs are to be updated.
func TestNoticeTargetsLimits(t *testing.T) {
	for name, at := range map[string]func(i int) string{
		"a provider's tracked link per copy": func(i int) string {
			return fmt.Sprintf("at https://mailteam.us5.list-manage.com/track/click?u=7a1f&id=33c2&e=%x", uint64(i+1)*0x9e3779b97f4a7c15)
		},
		"a social network's page per copy": func(i int) string { return fmt.Sprintf("at https://www.facebook.com/mailbox.help.%d", i) },
		"a domain per copy":                func(i int) string { return fmt.Sprintf("at https://mailbox-help-%d.com/verify", i) },
		"a free-mail address per copy":     func(i int) string { return fmt.Sprintf("by writing to mailbox.desk%d@gmail.com", i) },
	} {
		if n := lureAt(t, 2829, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure(at(i)) }); n != 0 {
			t.Errorf("%s: found at account %d: a documented limit no longer is one (docs/suspension.md)", name, n)
		}
	}
}

// TestNoticeTargetsBound: maxTargets, from the innocent side: twelve
// organisations under one notice each pointing to 8 sites of their own
// are no campaign; with 9, each notice is plain text and they are one
// (a documented limit).
func TestNoticeTargetsBound(t *testing.T) {
	for k, want := range map[int]bool{maxTargets: false, maxTargets + 1: true} {
		shape := func(i int, site, own string) (string, string) {
			var links strings.Builder
			for j := range k {
				fmt.Fprintf(&links, " https://shop%d.%s/", j, strings.Replace(site, ".example", fmt.Sprintf("-%d.example", j), 1))
			}
			return "text/plain", own + links.String() + "\n\n" + optInNotice
		}
		if got := newsletterCampaign(t, shape, true); got != want {
			t.Errorf("%d targets: a campaign %v, want %v", k, got, want)
		}
	}
}

// TestNoticeTargetsParts: the text parts and the targets together are
// at most MaxTextParts samples (each keeps MinKeys keys within
// MaxKeys): a message with a notice, one link and 15 text parts has its
// notice salted; with 16, plain text.
func TestNoticeTargetsParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 16))
	for parts, salted := range map[int]bool{MaxTextParts - 1: true, MaxTextParts: false} {
		var b strings.Builder
		b.WriteString("From: <club1@isp.example>\nTo: <member@remote.example>\nSubject: News\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n")
		b.WriteString("--zz\nContent-Type: text/plain\n\n" + ownText(rng, 60) + " https://org1.example/news\n\n" + optInNotice + "\n")
		for range parts - 1 {
			b.WriteString("--zz\nContent-Type: text/plain\n\n" + ownText(rng, 25) + "\n")
		}
		b.WriteString("--zz--\n")
		raw := []byte(b.String())
		c := collectorOf(t, Names("member"), raw)
		if len(c.parts) != parts {
			t.Fatalf("%d text parts, want %d", len(c.parts), parts)
		}
		f := c.Fingerprint()
		c.target(anyTarget) // the notice plain text
		if got := !slices.Equal(f.Text, c.Fingerprint().Text); got != salted {
			t.Errorf("%d text parts and a target: salted %v, want %v", parts, got, salted)
		}
		if len(f.Text) > MaxKeys {
			t.Errorf("%d text parts: %d keys", parts, len(f.Text))
		}
	}
}

// TestNoticeTargetsUnnamed: the texts with a payload before the first
// part with a notice wait to be named, at most maxWait bytes: two
// text parts of MaxText bytes with a link each, then the notice with
// one: the notice salted; three: plain text.
func TestNoticeTargetsUnnamed(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 17))
	for parts, salted := range map[int]bool{maxWait / MaxText: true, maxWait/MaxText + 1: false} {
		raw := longParts(rng, parts, "https://org1.example/news ",
			"--zz\nContent-Type: text/plain\n\n"+ownText(rng, 60)+" https://org1.example/news\n\n"+optInNotice+"\n")
		c := collectorOf(t, nil, raw)
		f := c.Fingerprint()
		c.target(anyTarget)
		if got := !slices.Equal(f.Text, c.Fingerprint().Text); got != salted {
			t.Errorf("%d parts of MaxText before the notice: salted %v, want %v", parts, got, salted)
		}
	}
}

// TestTargetsOf: the targets named, as targets.go says: a link by its
// registrable domain (anyone's under a free suffix), a platform's by
// host, path and query, a number by its first and last nine digits,
// addresses by domain or whole; what no scanner names is "any".
func TestTargetsOf(t *testing.T) {
	for text, want := range map[string][]string{
		"see https://www.shop.example.co.uk/a?b=1 today":                {"url:example.co.uk"},
		"see secure-login.phish.com/verify.":                            {"url:phish.com"},
		"see Link:https://u1.Phish.Example/x":                           {"url:phish.example"},
		"see https://club-7.github.io/join":                             {"url:*"},
		"see https://org3.us5.list-manage.com/track/click?u=1&id=2#x":   {"url:org3.us5.list-manage.com/track/click?u=1&id=2"},
		"see https://www.facebook.com/club7":                            {"url:facebook.com/club7"},
		"call +1 (800) 555-0199 now":                                    {"tel:180055501", "tel:005550199"},
		"call 800 555 019 now":                                          {"tel:800555019", "tel:800555019"},
		"see secure-login[.]phish[.]com/v":                              {"url:phish.com"},
		"web:\u00a0https://org3.example\u00a0|\u00a0tel. 030 1234 5678": {"url:org3.example", "tel:030123456", "tel:012345678"},
		"nothing to act on, thank you.":                                 nil,
	} {
		if got, _ := targetsOf(text); !slices.Equal(got, want) {
			t.Errorf("targetsOf(%q) = %q, want %q", text, got, want)
		}
	}
	for a, want := range map[string]string{
		"info@mail.org3.example": "mail:org3.example",
		"club7@gmail.com":        "mail:club7@gmail.com",
		"club7@isp.example":      "mail:club7@isp.example",
		"club7@mx.isp.example":   "mail:club7@mx.isp.example",
	} {
		if got := mailTarget(a, []string{"isp.example"}); got != want {
			t.Errorf("mailTarget(%q) = %q, want %q", a, got, want)
		}
	}
	for doc, want := range map[string][]string{
		`<a href="https://org3.example/x">x</a>`:                   {"url:org3.example"},
		`<img src="//cdn.org3.example/logo.png">`:                  {"url:org3.example"},
		`<a href="tel:+18005550199">call</a>`:                      {"tel:180055501", "tel:005550199"},
		`<img src="cid:qr">`:                                       nil,
		`<img src="data:image/png;base64,AAAA123456789012AAAA">`:   {anyTarget},
		`<a href="/login">x</a>`:                                   {anyTarget},
		`<div style="background:url('https://qr.example/q.png')">`: {"url:qr.example"},
	} {
		var got []string
		htmlTargets(doc, func(id string) { got = append(got, id) })
		if !slices.Equal(got, want) {
			t.Errorf("htmlTargets(%q) = %q, want %q", doc, got, want)
		}
	}
}

// TestNoticeTargetsAddresses: at most 64 distinct addresses are read
// (then the message's targets are "any"): an organisation's 64
// addresses of its own (in an HTML part: its text and its source name
// each) and a link over the notice have the notice salted with the
// link; 65, plain text.
func TestNoticeTargetsAddresses(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 18))
	for n, salted := range map[int]bool{64: true, 65: false} {
		var addrs strings.Builder
		for k := range n {
			fmt.Fprintf(&addrs, "<a href=\"mailto:desk%d@org1.example\">desk%d@org1.example</a><br>\n", k, k)
		}
		raw := []byte("From: <news@org1.example>\nTo: <member@remote.example>\nSubject: News\nContent-Type: text/html\n\n<p>" + ownText(rng, 60) +
			` <a href="https://org1.example/news">news</a></p><p>` + addrs.String() + "</p><p>" + optInNotice + "</p>\n")
		c := collectorOf(t, nil, raw)
		c.ownMail = "org1.example"
		f := c.Fingerprint()
		c.target(anyTarget)
		if got := !slices.Equal(f.Text, c.Fingerprint().Text); got != salted {
			t.Errorf("%d addresses: salted %v, want %v", n, got, salted)
		}
	}
}

// collectorOf is the collector of raw's walk.
func collectorOf(tb testing.TB, names map[string]bool, raw []byte) *Collector {
	c := NewCollector(names, Seed{})
	if _, err := mimewalk.Walk(context.Background(), bytes.NewReader(raw), int64(len(raw)), mimewalk.Limits{}, func(it *mimewalk.Item) error {
		c.Item(it)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	c.Done()
	return c
}

// longParts is a message of parts text parts of MaxText bytes and more,
// each head and random words, then last (a part of its own, or "") and
// the closing boundary.
func longParts(rng *rand.Rand, parts int, head, last string) []byte {
	var b strings.Builder
	b.WriteString("From: <club1@isp.example>\nTo: <member@remote.example>\nSubject: News\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n")
	for range parts {
		text := head
		for len(text) < MaxText+100 {
			text += ownText(rng, 10) + "\n"
		}
		b.WriteString("--zz\nContent-Type: text/plain\n\n" + text + "\n")
	}
	b.WriteString(last + "--zz--\n")
	return []byte(b.String())
}
