package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR3PageSiteOwnForms (claim 3, innocent side): twelve
// organisations under one shared notice each link their OWN page on a
// page site, in a form whose first segments are the site's and not the
// page's: a Telegram channel's preview (t.me/s/CHANNEL), WhatsApp's
// QR-code link (wa.me/qr/CODE), Spotify's localised links
// (open.spotify.com/intl-de/episode/ID), Meetup's localised group page
// (meetup.com/de-DE/GROUP/), Zoom's web-client join (zoom.us/wc/join/ID),
// Patreon's creator page (patreon.com/c/NAME). Each is named by the
// site's segments alone: one target for all, a campaign.
func TestReviewR3PageSiteOwnForms(t *testing.T) {
	links := map[string]func(i int) string{
		"t.me/CHANNEL (control)":        func(i int) string { return fmt.Sprintf("https://t.me/club%dnews", i) },
		"t.me/s/CHANNEL":                func(i int) string { return fmt.Sprintf("https://t.me/s/club%dnews", i) },
		"wa.me/qr/CODE":                 func(i int) string { return fmt.Sprintf("https://wa.me/qr/K%dQZ%dA1", i, i*23) },
		"open.spotify.com/intl-de":      func(i int) string { return fmt.Sprintf("https://open.spotify.com/intl-de/episode/4Xq%dPz%dWb", i, i*7) },
		"meetup.com/de-DE/GROUP":        func(i int) string { return fmt.Sprintf("https://www.meetup.com/de-DE/club-%d-wandern/", i) },
		"zoom.us/wc/join/ID":            func(i int) string { return fmt.Sprintf("https://zoom.us/wc/join/8%09d", 123456+i*7919) },
		"patreon.com/c/NAME":            func(i int) string { return fmt.Sprintf("https://www.patreon.com/c/club%dpodcast", i) },
		"youtube.com/shorts (control?)": func(i int) string { return fmt.Sprintf("https://www.youtube.com/shorts/Xq%dPz%dWb", i, i*7) },
	}
	wantOwnPagesInnocent(t, links, "variants a campaign")
}

// TestReviewR3PageSiteFormsNoEvasion (claim 3, the run's side): one page
// on a page site in every copy, written per copy in the site's other
// forms of the same page (each opens the same chat, invite, channel or
// video): Discord's discord.gg/CODE and discord.com/invite/CODE,
// Telegram's t.me/+CODE and t.me/joinchat/CODE, WhatsApp's wa.me/N and
// api.whatsapp.com/send?phone=N, PayPal's paypal.me/NAME and
// paypal.com/paypalme/NAME, YouTube's youtu.be/ID, watch?v=ID,
// shorts/ID and embed/ID, Zoom's j/ID, w/ID and s/ID. Each form is a
// name of its own: the run's accounts are split among them.
func TestReviewR3PageSiteFormsNoEvasion(t *testing.T) {
	for name, at := range map[string]func(i int) string{
		"discord invite": func(i int) string {
			return []string{"https://discord.gg/PhIsH7x", "https://discord.com/invite/PhIsH7x"}[i%2]
		},
		"telegram invite": func(i int) string {
			return []string{"https://t.me/+PhIsH7x", "https://t.me/joinchat/PhIsH7x"}[i%2]
		},
		"whatsapp number": func(i int) string {
			return []string{"https://wa.me/4917012345678", "https://api.whatsapp.com/send?phone=4917012345678"}[i%2]
		},
		"paypal.me": func(i int) string {
			return []string{"https://paypal.me/MailTeamDesk", "https://www.paypal.com/paypalme/MailTeamDesk"}[i%2]
		},
		"youtube video": func(i int) string {
			return []string{"https://youtu.be/PhIsH7xAbc", "https://www.youtube.com/watch?v=PhIsH7xAbc", "https://www.youtube.com/shorts/PhIsH7xAbc", "https://www.youtube.com/embed/PhIsH7xAbc"}[i%4]
		},
		"zoom meeting": func(i int) string {
			return []string{"https://zoom.us/j/81234567890", "https://zoom.us/w/81234567890", "https://zoom.us/s/81234567890", "https://us02web.zoom.us/j/81234567890"}[i%4]
		},
	} {
		n := lureAt(t, 2845, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure("at "+at(i)) })
		var names []string
		for i := range 4 {
			names = append(names, fmt.Sprint(urlTargets(at(i))))
		}
		if n != 5 {
			t.Errorf("%s, forms alternating per copy: found at account %d, want 5 (0: never in 12); named %s", name, n, strings.Join(names, ", "))
		}
	}
}
