package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// toolShapes are shapes of TestReviewPageSiteToolShapes (reviewer ro,
// branch ro) this branch makes innocent: each organisation's own PayPal
// donate form, calendar entry, event, chat or shared file as the tools
// write them, with what the tool adds around it (PayPal's pixel,
// Mailchimp's icons, Eventbrite's image host) the same for all of them.
var toolShapes = map[string]func(i int, site, own string) (string, string){
	"PayPal generator's donate form (POST, hidden input, pixel)": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><form action="https://www.paypal.com/donate" method="post" target="_top">
<input type="hidden" name="hosted_button_id" value="ORG%dX7Q" />
<input type="image" src="https://www.paypalobjects.com/en_US/DE/i/btn/btn_donateCC_LG.gif" border="0" name="submit" title="PayPal - The safer, easier way to pay online!" alt="Donate with PayPal button" />
<img alt="" border="0" src="https://www.paypal.com/en_DE/i/scr/pixel.gif" width="1" height="1" />
</form><p>%s</p></body></html>`, own, i, optInNotice)
	}, "PayPal classic webscr form (business hidden input)": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><form action="https://www.paypal.com/cgi-bin/webscr" method="post">
<input type="hidden" name="cmd" value="_donations"><input type="hidden" name="business" value="treasurer@%s">
<input type="hidden" name="currency_code" value="EUR"><input type="image" src="https://www.paypalobjects.com/de_DE/DE/i/btn/btn_donateCC_LG.gif" name="submit"></form><p>%s</p></body></html>`, own, site, optInNotice)
	}, "Google Calendar add-event link": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nAdd to your calendar: https://calendar.google.com/calendar/render?action=TEMPLATE&text=Club+%d+summer+fair&dates=202612%02dT140000Z/202612%02dT180000Z&details=Bring+a+friend&location=Club+%d+Hall\n\n", i, 1+i, 1+i, i) + optInNotice
	}, "Google Calendar event link (eid)": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nOur calendar entry: https://calendar.google.com/calendar/event?action=TEMPLATE&tmeid=%x&tmsrc=club%d%%40gmail.com\n\n", uint64(i+1)*0x9e3779b97f4a7c15, i) + optInNotice
	}, "Mailchimp social follow icons": func(i int, site, own string) (string, string) {
		var b strings.Builder
		for _, n := range []string{"facebook", "instagram", "youtube"} {
			fmt.Fprintf(&b, `<a href="https://www.%s.com/club%d"><img src="https://cdn-images.mailchimp.com/icons/social-block-v2/color-%s-48.png" width="24"></a> `, n, i, n)
		}
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><p>%s</p><p>%s</p></body></html>`, own, b.String(), optInNotice)
	}, "Eventbrite event card (image on evbuc.com)": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><a href="https://www.eventbrite.de/e/club-%d-fair-tickets-%d"><img src="https://img.evbuc.com/https%%3A%%2F%%2Fcdn.evbuc.com%%2Fimages%%2F%d%%2F1%%2Foriginal.jpg?w=600&auto=format%%2Ccompress&s=%x"></a><p>%s</p></body></html>`, own, i, 700000000+i*7919, 600000000+i*131, i*7777, optInNotice)
	}, "Dropbox link to the programme": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nThe programme: https://www.dropbox.com/scl/fi/%x/programme.pdf?rlkey=%x&dl=0\n\n", uint64(i+1)*0x9e3779b97f4a7c15, i*31337) + optInNotice
	}, "OneDrive link to the programme": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nThe programme: https://1drv.ms/b/s!Ak%xQz\n\n", uint64(i+1)*0x9e3779b97f4a7c15) + optInNotice
	}, "Google Maps embed iframe (the place in pb=)": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><iframe src="%s" width="600" height="450" style="border:0;" allowfullscreen="" loading="lazy" referrerpolicy="no-referrer-when-downgrade"></iframe><p>%s</p></body></html>`,
			own, mapsEmbed(i, i), optInNotice)
	}, "Google static map image": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><img src="https://maps.googleapis.com/maps/api/staticmap?center=Club+%d+Hall,Springfield&zoom=15&size=600x300&maptype=roadmap&markers=color:red%%7Clabel:C%%7CClub+%d+Hall,Springfield&key=AIzaSy%x"><p>%s</p></body></html>`,
			own, i, i, uint64(i+1)*0x9e3779b97f4a7c15, optInNotice)
	}, "free Mailchimp account's rewards badge (eep.io)": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s <a href="%s">Read more</a></p><p>%s</p><div style="text-align:center"><a href="http://eepurl.com/%x" title="Mailchimp - email marketing made easy and fun"><img src="https://eep.io/mc-cdn-images/template_images/branding_logo_text_dark_dtp.svg"></a></div></body></html>`,
			own, mailchimp(i, 1), optInNotice, uint64(i+1)*0x9e3779b97f4a7c15)
	}, "WhatsApp group invite": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nJoin our WhatsApp group: https://chat.whatsapp.com/Ab%xCd\n\n", uint64(i+1)*0x9e3779b97f4a7c15) + optInNotice
	}}

// mapsEmbed is Google Maps' embed link (its "Share > Embed a map") of
// place p, generated at a time and a view of copy i's own.
func mapsEmbed(i, p int) string {
	return fmt.Sprintf("https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d%d.5!2d13.37%d!3d52.51%d!2m3!1f0!2f0!3f0!3m2!1i1024!2i768!4f13.1!3m3!1m2!1s0x47a851c6%08x%%3A0x26bbfb4e%08x!2sClub%%20%d%%20Hall!5e0!3m2!1sen!2sde!4v17000%08d!5m2!1sen!2sde",
		2400+i*37, i%10, i%10, p*7919, p*104729, p, i*7777)
}

// TestPageSiteToolAssets: twelve organisations under one shared notice,
// each with its own page in the toolShapes' shapes, are no campaign.
func TestPageSiteToolAssets(t *testing.T) {
	var held []string
	for name, shape := range toolShapes {
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				held = append(held, fmt.Sprintf("%s (consumer logins %v)", name, consumer))
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d variants a campaign:\n%s", len(held), 2*len(toolShapes), strings.Join(held, "\n"))
	}
}

// TestFormPages: a page site's form is named by its hidden inputs
// naming the page, only those of the form, only hidden ones.
func TestFormPages(t *testing.T) {
	for in, want := range map[string]string{
		`<form action="https://www.paypal.com/donate" method="post"><input type="hidden" name="hosted_button_id" value="A B"></form>`:                                         `action="https://www.paypal.com/donate?hosted_button_id=A+B"`,
		`<form action='https://www.paypal.com/cgi-bin/webscr?x=1'><input type=hidden name=business value=t@club.example><input type=hidden name=cmd value=_donations></form>`: `action='https://www.paypal.com/cgi-bin/webscr?x=1&business=t%40club.example'`,
		`<form action="https://www.paypal.com/donate"><input type="text" name="hosted_button_id" value="A"></form><input type="hidden" name="business" value="B">`:            `action="https://www.paypal.com/donate"`,
		`<form action="https://club.example/donate"><input type="hidden" name="hosted_button_id" value="A"></form>`:                                                           `action="https://club.example/donate"`,
	} {
		if got := formPages(in); !strings.Contains(got, want) {
			t.Errorf("formPages(%q) = %q, want %s in it", in, got, want)
		}
	}
}

// TestPageSiteToolNoEvasion: ONE such page in every copy of the lure
// written as the notice, with the tool's additions, is found at the 5th
// account.
func TestPageSiteToolNoEvasion(t *testing.T) {
	for name, body := range map[string]func(i int) string{
		"one PayPal donate form": func(i int) string {
			return fmt.Sprintf(`<form action="https://www.paypal.com/donate" method="post"><input type="hidden" name="hosted_button_id" value="MAILTEAM7" />
<input type="image" src="https://www.paypalobjects.com/en_US/i/btn/btn_donateCC_LG.gif" name="submit" /><img src="https://www.paypal.com/en_DE/i/scr/pixel.gif" width="%d" height="1" /></form>`, 1+i%2)
		},
		"one classic webscr form": func(i int) string {
			return fmt.Sprintf(`<form action="https://www.paypal.com/cgi-bin/webscr" method="post"><input type="hidden" name="cmd" value="_donations"><input type="hidden" name="business" value="desk@mail-team.example"><input type="hidden" name="item_number" value="%d"></form>`, i)
		},
		"one calendar entry": func(i int) string {
			return fmt.Sprintf(`<a href="https://calendar.google.com/calendar/render?action=TEMPLATE&text=Mailbox+verification&dates=20261201T1%d0000Z/20261201T180000Z&details=copy%d">Add</a>`, i%10, i)
		},
		// An asset host's image is no target: a QR there alone leaves
		// the notice plain text, as a message without targets.
		"one QR image on evbuc.com":                func(i int) string { return `<img src="https://img.evbuc.com/qr.png">` },
		"one QR image on cdn-images.mailchimp.com": func(i int) string { return `<img src="https://cdn-images.mailchimp.com/qr.png">` },
		"one Maps embed (a view and time of each copy's own)": func(i int) string {
			return fmt.Sprintf(`<iframe src="%s" width="600" height="450"></iframe>`, mapsEmbed(i, 4242))
		},
		"one static map (a zoom and key of each copy's own)": func(i int) string {
			return fmt.Sprintf(`<img src="https://maps.googleapis.com/maps/api/staticmap?center=Mail+Team+Desk,Springfield&zoom=%d&size=600x300&markers=color:blue%%7CMail+Team+Desk,Springfield&key=AIza%x">`, 10+i%8, i*31337)
		},
		"one QR image on eep.io": func(i int) string { return `<img src="https://eep.io/qr.png">` },
		"one Eventbrite event with its card image": func(i int) string {
			return fmt.Sprintf(`<a href="https://www.eventbrite.de/e/mailbox-%d-tickets-123456789"><img src="https://img.evbuc.com/x%d.jpg"></a>`, i, i)
		},
	} {
		if n := lureAt(t, 2846, plainSubject, "text/html", func(i int, own string) string {
			return fmt.Sprintf(`<html><body><p>%s</p><p>%s</p>%s</body></html>`, own, noticeLure("with the button below"), body(i))
		}); n != 5 {
			t.Errorf("%s: found at account %d, want 5 (0: never in 12)", name, n)
		}
	}
}

// TestMapsTargets: a Maps embed is named by its place (its feature id,
// else its centre), a static map by its locations; Google's other API
// hosts are named as before (storage's files a free host's, "url:*", not
// a page each), and the badge's image host is none.
func TestMapsTargets(t *testing.T) {
	for in, want := range map[string]string{
		mapsEmbed(1, 5): "url:google/maps/embed?pb=place%3A0x47a851c600009aab%3A0x26bbfb4e0007fd7d",
		mapsEmbed(2, 5): "url:google/maps/embed?pb=place%3A0x47a851c600009aab%3A0x26bbfb4e0007fd7d",
		"https://www.google.com/maps/embed?pb=!1m14!1m12!1m3!1d2427.1!2d13.37771!3d52.51627!2m3!1f0!2f0!3f0!3m2!1i1024!2i768!4f13.1!5e0!3m2!1sen!2sde!4v1700000000001": "url:google/maps/embed?pb=at%3A52.516%2C13.378",
		"https://maps.googleapis.com/maps/api/staticmap?center=Club+Hall&zoom=12&markers=color:red%7CClub+Hall&key=A":                                                  "url:maps.googleapis.com/maps/api/staticmap?center=club+hall&markers=club+hall",
		"https://storage.googleapis.com/bucket-1/login.html": "url:*",
		"https://eep.io/mc-cdn-images/template_images/x.svg": "",
	} {
		if got, _, ok := urlTarget(in); !ok || got != want {
			t.Errorf("urlTarget(%s) = %q, want %q", in, got, want)
		}
	}
}
