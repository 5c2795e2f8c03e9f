package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

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
	"mailchimp html with its image host": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><img src="https://mcusercontent.com/%x/images/header.png"><p>%s <a href="%s">Read more</a></p><p>%s</p></body></html>`, i*31337, own, mailchimp(i, 2), optInNotice)
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

// TestNoticeOwnTargets: twelve organisations' realistic newsletters (15
// shapes, from their own login domains and from consumer logins) under
// one shared opt-in notice, each pointing its readers at its own
// targets, are no campaign. Before (the notice the sender's text
// whenever the message had a payload): 12 of 30 variants held and
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
