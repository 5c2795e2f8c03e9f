package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR1PageSiteOtherForms (review r1, issue 28 claim 2, the
// innocent side): twelve organisations under one shared notice each link
// their OWN page on a site docs/suspension.md lists as a page site
// (Discord invite, OneDrive shared file, YouTube, Zoom meeting, WhatsApp,
// Telegram), but in the site's other canonical form: Discord's own
// invite URL (discord.com/invite/CODE, where discord.gg redirects),
// OneDrive's current share link (1drv.ms/b/c/CID/ID) and its
// onedrive.live.com links (the item in the query), a YouTube channel
// (youtube.com/@handle) or playlist (?list=), a Zoom meeting or webinar
// registration page, WhatsApp's click-to-chat (api.whatsapp.com/send?
// phone=), a Telegram group invite (t.me/joinchat/CODE). targets.go
// names each by the site alone ("url:discord.com", "url:live.com",
// "url:youtube.com/", "url:zoom.us/meeting/register", ...): one target
// for all twelve, a campaign, every organisation suspended. The
// documented forms (discord.gg/CODE, 1drv.ms/u/s!ID, youtu.be/ID,
// zoom.us/j/ID, wa.me/N, t.me/+CODE) are held (controls). Also PayPal's
// donate link by campaign_id (named "paypal.com/donate"), WhatsApp
// Business's short link (wa.me/message/CODE) and Calendly's one-off
// link (calendly.com/d/CODE).
func TestReviewR1PageSiteOtherForms(t *testing.T) {
	links := map[string]func(i int) string{
		"Discord invite, discord.gg (control)": func(i int) string { return fmt.Sprintf("https://discord.gg/club%dx", i) },
		"Discord invite, discord.com/invite":   func(i int) string { return fmt.Sprintf("https://discord.com/invite/club%dx", i) },
		"OneDrive 1drv.ms/u/s! (control)":      func(i int) string { return fmt.Sprintf("https://1drv.ms/u/s!Ak%dZq%dx", i, i*7) },
		"OneDrive 1drv.ms/b/c/CID/ID":          func(i int) string { return fmt.Sprintf("https://1drv.ms/b/c/%x/E%dQz%dK", 0x9e3779b9*(i+1), i, i*13) },
		"OneDrive onedrive.live.com redir": func(i int) string {
			return fmt.Sprintf("https://onedrive.live.com/redir?resid=%X%%21%d", 0x9e3779b9*(i+1), 100+i)
		},
		"YouTube channel @handle":      func(i int) string { return fmt.Sprintf("https://www.youtube.com/@choir%dtown", i) },
		"YouTube playlist":             func(i int) string { return fmt.Sprintf("https://www.youtube.com/playlist?list=PL%dxYz%d", i, i*31) },
		"Zoom meeting registration":    func(i int) string { return fmt.Sprintf("https://us02web.zoom.us/meeting/register/tZ%dcu%dq", i, i*17) },
		"Zoom webinar registration":    func(i int) string { return fmt.Sprintf("https://us06web.zoom.us/webinar/register/WN_%dAbC%d", i, i*3) },
		"WhatsApp click to chat":       func(i int) string { return fmt.Sprintf("https://api.whatsapp.com/send?phone=4917%08d", 1000000+i*7919) },
		"PayPal donate campaign_id":    func(i int) string { return fmt.Sprintf("https://www.paypal.com/donate/?campaign_id=C%dQ7%dZ", i, i*19) },
		"WhatsApp Business short link": func(i int) string { return fmt.Sprintf("https://wa.me/message/K%dQZ%dA1", i, i*23) },
		"Calendly one-off link":        func(i int) string { return fmt.Sprintf("https://calendly.com/d/ck%d-q%d-x7/visit", i, i*3) },
		"Telegram joinchat":            func(i int) string { return fmt.Sprintf("https://t.me/joinchat/Gr%dAaB%d", i, i*11) },
	}
	wantOwnPagesInnocent(t, links, "variants a campaign")
}

// wantOwnPagesInnocent: for each of links, twelve organisations under
// the shared opt-in notice, organisation i linking its own page link(i),
// from their own logins and from consumer logins, are no campaign
// (newsletterCampaign). The error says what the variants held are,
// each with the targets organisations 1's and 2's links are given.
func wantOwnPagesInnocent(t *testing.T, links map[string]func(i int) string, what string) {
	t.Helper()
	var held []string
	for name, link := range links {
		shape := func(i int, site, own string) (string, string) {
			return "text/plain", own + "\n\nSee: " + link(i) + "\n\n" + optInNotice
		}
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				held = append(held, fmt.Sprintf("%s (consumer logins %v): targets %q, %q", name, consumer, urlTargets(link(1)), urlTargets(link(2))))
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d %s:\n%s", len(held), 2*len(links), what, strings.Join(held, "\n"))
	}
}
