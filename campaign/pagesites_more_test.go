package campaign

import (
	"fmt"
	"testing"
)

// TestPageSiteMoreNoEvasion: a run linking ONE page on each page site
// TestReviewPageSiteListGaps added (with a share token, a tracking
// query or a file name of each copy's own) is found at the 5th account,
// as one page on the older ones is (TestPageSiteNoEvasion).
func TestPageSiteMoreNoEvasion(t *testing.T) {
	for name, at := range map[string]func(i int) string{
		"youtu.be":         func(i int) string { return fmt.Sprintf("https://youtu.be/PhIsH7x?si=%x", i*31337) },
		"vimeo.com":        func(i int) string { return fmt.Sprintf("https://vimeo.com/812345678?share=copy&t=%d", i) },
		"open.spotify.com": func(i int) string { return fmt.Sprintf("https://open.spotify.com/episode/4PhIsH7x?si=%x", i) },
		"forms.gle":        func(i int) string { return fmt.Sprintf("https://forms.gle/PhIsH7x?r=%d", i) },
		"forms.office.com": func(i int) string { return fmt.Sprintf("https://forms.office.com/r/PhIsH7x?origin=lprLink%d", i) },
		"forms.office.com ?id": func(i int) string {
			return fmt.Sprintf("https://forms.office.com/Pages/ResponsePage.aspx?id=PhIsH7xMailDesk&utm=%d", i)
		},
		"discord.gg":        func(i int) string { return fmt.Sprintf("https://discord.gg/PhIsH7x?c=%d", i) },
		"chat.whatsapp.com": func(i int) string { return fmt.Sprintf("https://chat.whatsapp.com/PhIsH7xMailDesk?ref=%d", i) },
		"dropbox.com": func(i int) string {
			return fmt.Sprintf("https://www.dropbox.com/scl/fi/ph1sh7x/verify-%d.html?rlkey=%x&dl=0", i, i*7)
		},
		"1drv.ms": func(i int) string { return fmt.Sprintf("https://1drv.ms/u/s!PhIsH7xMailDesk?e=%x", i*31337) },
		// The sites' other forms (TestReviewR1PageSiteOtherForms).
		"discord.com/invite": func(i int) string { return fmt.Sprintf("https://discord.com/invite/PhIsH7x?c=%d", i) },
		"1drv.ms/b/c":        func(i int) string { return fmt.Sprintf("https://1drv.ms/b/c/9e3779b9/EPhIsH7xMailDesk?e=%x", i*31337) },
		"onedrive.live.com": func(i int) string {
			return fmt.Sprintf("https://onedrive.live.com/redir?resid=9E3779B9%%21112&e=%x", i*31337)
		},
		"youtube.com/@handle": func(i int) string {
			return fmt.Sprintf("https://www.youtube.com/%s?si=%x", []string{"@PhIsHDesk", "@phishdesk/videos", "@PHISHDESK/featured"}[i%3], i)
		},
		"youtube.com playlist": func(i int) string { return fmt.Sprintf("https://www.youtube.com/playlist?list=PLPhIsH7x&si=%x", i) },
		"zoom.us meeting registration": func(i int) string {
			return fmt.Sprintf("https://us0%dweb.zoom.us/meeting/register/tZPhIsH7x?tk=%x", 2+i%5, i*31337)
		},
		"zoom.us webinar registration": func(i int) string { return fmt.Sprintf("https://zoom.us/webinar/register/WN_PhIsH7x?r=%d", i) },
		"api.whatsapp.com/send": func(i int) string {
			return fmt.Sprintf("https://api.whatsapp.com/send%s?phone=4917012345678&text=Hi%d", []string{"", "/"}[i%2], i)
		},
		"paypal.com/donate campaign_id": func(i int) string {
			return fmt.Sprintf("https://www.paypal.com/donate/?campaign_id=PHISH7X&locale.x=en_%d", i)
		},
		"wa.me/message":  func(i int) string { return fmt.Sprintf("https://wa.me/message/PHISH7XMAIL?src=%d", i) },
		"t.me/joinchat":  func(i int) string { return fmt.Sprintf("https://t.me/joinchat/PhIsH7x?r=%d", i) },
		"calendly.com/d": func(i int) string { return fmt.Sprintf("https://calendly.com/d/ck1-ph1-x7/verify-%d?month=%d", i, i) },
	} {
		if n := lureAt(t, 2845, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure("at "+at(i)) }); n != 5 {
			t.Errorf("%s: found at account %d, want 5 (0: never in 12); targets of copies 1, 2: %q, %q", name, n, urlTargets(at(1)), urlTargets(at(2)))
		}
	}
}
