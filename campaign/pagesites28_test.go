package campaign

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
)

// orgImage is organisation i's own image (a logo, or the run's QR code
// when i is one number for all copies): PNG bytes of its own.
func orgImage(i int) string {
	var b strings.Builder
	b.WriteString("\x89PNG\r\n\x1a\n")
	rng := rand.New(rand.NewPCG(uint64(i), 77))
	for range 600 {
		b.WriteByte(byte(rng.UintN(256)))
	}
	return base64.StdEncoding.EncodeToString([]byte(b.String()))
}

// orgPDF is organisation i's own PDF (its programme, the run's lure
// when i is one number for all copies).
func orgPDF(i int) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%%PDF-1.4\n%s\n%%%%EOF\n", strings.Repeat(fmt.Sprintf("(Programme of organisation %d, autumn) Tj\n", i), 30))))
}

// withParts is a multipart/kind body of text (text/plain, or text/html
// when html) and the further parts, each "Content-Type…\n\nbody".
func withParts(kind, text string, html bool, parts ...string) (string, string) {
	ct := "text/plain"
	if html {
		ct = "text/html"
	}
	b := "--zz\nContent-Type: " + ct + "; charset=utf-8\n\n" + text + "\n"
	for _, p := range parts {
		b += "--zz\n" + p + "\n"
	}
	return "multipart/" + kind + "; boundary=zz", b + "--zz--"
}

// imagePart is an image part of content id cid (none: "") and
// disposition disp with image n's bytes.
func imagePart(n int, cid, disp string) string {
	h := "Content-Type: image/png; name=logo.png\nContent-Transfer-Encoding: base64\n"
	if cid != "" {
		h += "Content-ID: <" + cid + ">\n"
	}
	if disp != "" {
		h += "Content-Disposition: " + disp + "; filename=logo.png\n"
	}
	return h + "\n" + orgImage(n)
}

// pdfPart is an attached PDF with document n's bytes.
func pdfPart(n int) string {
	return "Content-Type: application/pdf; name=programme.pdf\nContent-Disposition: attachment; filename=programme.pdf\nContent-Transfer-Encoding: base64\n\n" + orgPDF(n)
}

// pageShapes are organisations' news under the shared opt-in notice
// whose only targets are on a shared payment, ticket, map, meeting or
// chat site, or an image or a file of their own.
var pageShapes = map[string]func(i int, site, own string) (ct, body string){
	"own PayPal donate button": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nSupport us: https://www.paypal.com/donate/?hosted_button_id=ORG%dX7Q&utm_source=newsletter\n\n", i) + optInNotice
	},
	"own PayPal button in html": func(i int, site, own string) (string, string) {
		return "text/html", fmt.Sprintf(`<html><body><p>%s</p><a href="https://www.paypal.com/donate/?hosted_button_id=ORG%dX7Q"><img src="https://www.paypalobjects.com/en_US/i/btn/btn_donateCC_LG.gif"></a><p>%s</p></body></html>`, own, i, optInNotice)
	},
	"own paypal.me": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nDonate: https://paypal.me/club%d/10EUR\n\n", i) + optInNotice
	},
	"own Eventbrite event": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nTickets: https://www.eventbrite.co.uk/e/club-%d-summer-fair-tickets-%d?aff=ebdsoporgprofile\n\n", i, 700000000+i*7919) + optInNotice
	},
	"own Google Maps short link": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nHow to find us: https://maps.app.goo.gl/Xq%dPz%dWb\n\n", i, i*7) + optInNotice
	},
	"own Google Maps place": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nOur hall: https://www.google.com/maps/place/Club+%d+Hall/@52.52%d,13.40%d,17z/data=!3m1!4b1\n\n", i, i, i) + optInNotice
	},
	"own Google Maps search": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nOur hall: https://www.google.com/maps/search/?api=1&query=Club+%d+Hall+Springfield\n\n", i) + optInNotice
	},
	"own GoFundMe and WhatsApp group": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nhttps://www.gofundme.com/f/club-%d-roof?utm_campaign=p_cp+share-sheet\nChat: https://wa.me/49170%07d\n\n", i, i*7919) + optInNotice
	},
	"own Zoom meeting": func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nJoin the meeting: https://us0%dweb.zoom.us/j/8%09d?pwd=%x\n\n", 2+i%4, i*104729, i*31337) + optInNotice
	},
	"own cid: logo": func(i int, site, own string) (string, string) {
		return withParts("related", fmt.Sprintf(`<html><body><img src="cid:logo%d"><p>%s</p><p>%s</p></body></html>`, i, own, optInNotice), true, imagePart(i, fmt.Sprintf("logo%d", i), "inline"))
	},
	"own inline image": func(i int, site, own string) (string, string) {
		return withParts("mixed", own+"\n\n"+optInNotice, false, imagePart(i, "", "inline"))
	},
	"own attached PDF": func(i int, site, own string) (string, string) {
		return withParts("mixed", own+"\n\nOur programme is attached.\n\n"+optInNotice, false, pdfPart(i))
	},
	"own logo, PDF and PayPal button": func(i int, site, own string) (string, string) {
		return withParts("mixed", fmt.Sprintf(`<html><body><img src="cid:logo"><p>%s</p><a href="https://www.paypal.com/donate/?hosted_button_id=ORG%dX7Q">Donate</a><p>%s</p></body></html>`, own, i, optInNotice), true,
			imagePart(i, "logo", "inline"), pdfPart(i))
	},
}

// TestPageSiteTargets: twelve organisations under one shared notice
// (from their own login domains and from consumer logins) whose news
// each links their own PayPal button, Eventbrite event, Maps link,
// fundraiser, chat or meeting, or carries their own logo (as a cid:
// part or an inline image) or attached PDF, are no campaign. Before:
// each a campaign (a registrable domain that was no platform one target;
// an image or attachment "any", the notice plain text). And the links
// named as targets.go says.
func TestPageSiteTargets(t *testing.T) {
	var held []string
	for name, shape := range pageShapes {
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				held = append(held, fmt.Sprintf("%s (consumer logins %v)", name, consumer))
			}
		}
	}
	if len(held) > 0 {
		t.Errorf("%d of %d variants a campaign:\n%s", len(held), 2*len(pageShapes), strings.Join(held, "\n"))
	}
	for f, want := range map[string]string{
		"https://www.paypal.com/donate/?hosted_button_id=AB12&utm_source=x&locale.x=de_DE":   "url:paypal.com/donate?hosted_button_id=AB12",
		"https://paypal.me/Club7/25EUR?country.x=DE":                                         "url:paypal.me/club7",
		"https://www.eventbrite.de/e/any-slug-tickets-123456789?aff=ebdssbdestsearch":        "url:eventbrite/e/123456789",
		"https://www.eventbrite.com/e/123456789/":                                            "url:eventbrite/e/123456789",
		"https://maps.app.goo.gl/AbC123?g_st=ic":                                             "url:goo.gl/AbC123",
		"https://www.google.de/maps/place/Town+Hall/@52.5,13.4,17z/data=!4m6":                "url:google/maps/place/town+hall", // a place name in any case
		"https://maps.google.com/?q=Town+Hall&hl=en":                                         "url:google/?q=Town+Hall",
		"https://docs.google.com/forms/d/e/1FAIpQ/viewform?usp=sf_link":                      "url:google/forms/d/e/1FAIpQ/viewform",
		"https://us02web.zoom.us/j/81234567890?pwd=abc":                                      "url:zoom.us/j/81234567890",
		"https://wa.me/491701234567?text=Hello":                                              "url:wa.me/491701234567",
		"https://m.facebook.com/Club7/?ref=bookmarks":                                        "url:facebook.com/club7",
		"https://paypal.com.secure-donate.example/donate/?hosted_button_id=AB12":             "url:secure-donate.example",
		"https://www.paypal-donate.com/donate/?hosted_button_id=AB12":                        "url:paypal-donate.com",
		"https://www.google.com/url?q=https://secure-login.phish.example/v&sa=D&usg=AOvVaw1": "url:phish.example",
	} {
		if got := urlTargets(f); len(got) != 1 || got[0] != want {
			t.Errorf("urlTargets(%q) = %q, want %q", f, got, want)
		}
	}
	for _, f := range []string{"https://www.paypalobjects.com/en_US/i/btn/btn_donateCC_LG.gif", "https://fonts.gstatic.com/s/x.woff2"} {
		if got := urlTargets(f); got == nil || len(got) != 0 {
			t.Errorf("urlTargets(%q) = %q, want a link of no target", f, got)
		}
	}
}

// TestPageSiteNoEvasion: the lure written as the notice, every copy
// pointing at ONE PayPal button, paypal.me page, Eventbrite event, Maps
// link, QR image (a cid: part, an inline image part) or attachment
// (the same PDF; the same files zipped again per copy), whatever each
// copy adds to the link (a tracking parameter, an amount, another slug
// or country domain for one event, another map view of one place), is
// found at the 5th account (campaign.accounts).
func TestPageSiteNoEvasion(t *testing.T) {
	zrng := rand.New(rand.NewPCG(28, 28))
	cases := map[string]func(i int, own string) (string, string){}
	link := func(name string, at func(i int) string) {
		cases[name] = func(i int, own string) (string, string) { return "text/plain", own + "\n\n" + noticeLure("at "+at(i)) }
	}
	link("one PayPal donate button", func(i int) string {
		return fmt.Sprintf("https://www.paypal.com/donate/?hosted_button_id=MAILTEAM7&utm_source=x%d", i)
	})
	link("one paypal.me page, an amount per copy", func(i int) string { return fmt.Sprintf("https://paypal.me/MailTeam/%dEUR", 10+i) })
	link("one Eventbrite event, slug and country per copy", func(i int) string {
		return fmt.Sprintf("https://www.eventbrite.%s/e/mailbox-%d-tickets-123456789?aff=%d", []string{"com", "de", "co.uk", "fr"}[i%4], i, i)
	})
	link("one Maps short link", func(i int) string { return "https://maps.app.goo.gl/MaIlTeAm7?g_st=" + fmt.Sprint(i) })
	link("one Maps place, a view per copy", func(i int) string {
		return fmt.Sprintf("https://www.google.com/maps/place/Mail+Desk/@52.5%d,13.4%d,%dz", i, i, 12+i%6)
	})
	cases["one QR image as a cid: part"] = func(i int, own string) (string, string) {
		return withParts("related", fmt.Sprintf(`<html><body><p>%s</p><p>%s</p><img src="cid:qr%d"></body></html>`, own, noticeLure("by scanning the code below"), i), true, imagePart(999, fmt.Sprintf("qr%d", i), ""))
	}
	cases["one QR image as an inline part"] = func(i int, own string) (string, string) {
		return withParts("mixed", own+"\n\n"+noticeLure("by scanning the code below"), false, imagePart(999, "", "inline"))
	}
	cases["one attached PDF"] = func(i int, own string) (string, string) {
		return withParts("mixed", own+"\n\n"+noticeLure("with the attached form"), false, pdfPart(999))
	}
	cases["the same files zipped again per copy"] = func(i int, own string) (string, string) {
		return withParts("mixed", own+"\n\n"+noticeLure("with the attached form"), false,
			"Content-Type: application/zip\nContent-Disposition: attachment; filename=form.zip\nContent-Transfer-Encoding: base64\n\n"+base64.StdEncoding.EncodeToString(phishZip(t, zrng)))
	}
	for name, c := range cases {
		ct, _ := c(0, "")
		at := lureAt(t, 2840, plainSubject, ct, func(i int, own string) string {
			_, body := c(i, own)
			return body
		})
		if at != 5 {
			t.Errorf("%s: found at account %d, want 5", name, at)
		}
	}
}

// TestPageSiteLimits: what naming pages and contents lets through, as
// docs/suspension.md says (Known limits): a run whose copies each point
// at a Maps short link or a PayPal button of their own, or carry a QR
// image or a PDF whose bytes differ per copy, is not found when written
// as the notice (a target per copy, as a domain per copy); and
// organisations under one notice that each carry one template's image
// (the same icon as an inline part) are one campaign. If one of these
// changes, the docs are to be updated.
func TestPageSiteLimits(t *testing.T) {
	for name, c := range map[string]func(i int, own string) (string, string){
		"a Maps short link per copy": func(i int, own string) (string, string) {
			return "text/plain", own + "\n\n" + noticeLure(fmt.Sprintf("at https://maps.app.goo.gl/Mail%dTeam", i))
		},
		"a PayPal button per copy": func(i int, own string) (string, string) {
			return "text/plain", own + "\n\n" + noticeLure(fmt.Sprintf("at https://www.paypal.com/donate/?hosted_button_id=MT%d", i))
		},
		"a QR image per copy": func(i int, own string) (string, string) {
			return withParts("mixed", own+"\n\n"+noticeLure("by scanning the code below"), false, imagePart(1000+i, "", "inline"))
		},
		"a PDF per copy": func(i int, own string) (string, string) {
			return withParts("mixed", own+"\n\n"+noticeLure("with the attached form"), false, pdfPart(1000+i))
		},
	} {
		ct, _ := c(0, "")
		if at := lureAt(t, 2841, plainSubject, ct, func(i int, own string) string { _, b := c(i, own); return b }); at != 0 {
			t.Errorf("%s: found at account %d: a documented limit no longer is one (docs/suspension.md)", name, at)
		}
	}
	icon := func(i int, site, own string) (string, string) {
		return withParts("mixed", own+"\n\n"+optInNotice, false, imagePart(7, "", "inline"))
	}
	if !newsletterCampaign(t, icon, false) {
		t.Error("one template image in every organisation's news: no campaign: a documented limit no longer is one (docs/suspension.md)")
	}
}

// TestHamPageSites: the ham corpus's organisations under a shared
// notice (hamgen's "boilerplate") carry their own PayPal button,
// Eventbrite event, Maps link, cid: logo, inline image or attached PDF,
// each shape from more than six organisations, read as the targets
// they are (a part's content, not "any"); TestHamCorpus and
// TestHamWithFamilies find no campaign among them.
func TestHamPageSites(t *testing.T) {
	shapes := map[string]string{"paypal": "paypal.com/donate", "eventbrite": "eventbrite.de/e/", "maps": "maps.app.goo.gl/", "cid logo": "cid:logo@",
		"inline image": "image/png", "attached pdf": "application/pdf"}
	orgs := map[string]map[string]bool{}
	for _, m := range hamgen.Corpus(28, 6000, time.Hour) {
		if m.Kind != "boilerplate" {
			continue
		}
		for name, s := range shapes {
			if !strings.Contains(string(m.Raw), s) || name == "inline image" && strings.Contains(string(m.Raw), "cid:") {
				continue
			}
			if orgs[name] == nil {
				orgs[name] = map[string]bool{}
			}
			orgs[name][m.Account] = true
			targets, _ := collectorOf(t, nil, m.Raw).payloadTargets()
			if targets[anyTarget] {
				t.Errorf("%s: %s's targets %v", name, m.Account, targets)
			}
		}
	}
	for name := range shapes {
		if len(orgs[name]) < 6 {
			t.Errorf("%s: %d organisations", name, len(orgs[name]))
		}
		t.Logf("%s: %d organisations", name, len(orgs[name]))
	}
}

// TestPartTargetsEncrypted: an attached zip whose member the walk cannot
// decrypt has no safe name (its member's content is unknown: every such
// zip's members alike): the message's targets are "any", the notice
// plain text.
func TestPartTargetsEncrypted(t *testing.T) {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.CreateHeader(&zip.FileHeader{Name: "form.html", Method: zip.Store, Flags: 0x1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.Repeat("noise of a cipher ", 40)))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	for enc, want := range map[bool]bool{true: true, false: false} {
		data := b.Bytes()
		if !enc {
			data = []byte(orgPDF(3))
		}
		ct, body := withParts("mixed", ownText(rand.New(rand.NewPCG(1, 2)), 40)+"\n\n"+optInNotice, false,
			"Content-Type: application/zip\nContent-Disposition: attachment; filename=f.zip\nContent-Transfer-Encoding: base64\n\n"+base64.StdEncoding.EncodeToString(data))
		raw := []byte("From: <a@org1.example>\nTo: <m@remote.example>\nSubject: x\nMIME-Version: 1.0\nContent-Type: " + ct + "\n\n" + body + "\n")
		targets, _ := collectorOf(t, nil, raw).payloadTargets()
		if targets[anyTarget] != want {
			t.Errorf("encrypted %v: targets %v", enc, targets)
		}
	}
}
