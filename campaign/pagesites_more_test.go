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
	} {
		if n := lureAt(t, 2845, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure("at "+at(i)) }); n != 5 {
			t.Errorf("%s: found at account %d, want 5 (0: never in 12); targets of copies 1, 2: %q, %q", name, n, urlTargets(at(1)), urlTargets(at(2)))
		}
	}
}
