package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR4PageSiteFormsStillSplit (review r4, issue 28 claim 5): one
// page per run, written per copy in forms pageForms does not know, still
// several targets (TestReviewR3PageSiteFormsNoEvasion's harness): a
// YouTube video as youtu.be/ID, watch?v=ID&list=(one playlist),
// /v/ID, /e/ID, youtube-nocookie.com/embed/ID; a Discord invite on
// discordapp.com (still served) and discord.gg; a Telegram invite on
// telegram.me; a WhatsApp number with a "+"; a Zoom web-client link
// app.zoom.us/wc/ID/join. Want: found at the 5th, as the known forms are.
// Got: the YouTube video in 5 forms never in 12; the two-form ones
// (discord, telegram, whatsapp +, zoom wc) at the 9th.
func TestReviewR4PageSiteFormsStillSplit(t *testing.T) {
	for name, forms := range map[string][]string{
		"youtube video": {"https://youtu.be/PhIsH7xAbc", "https://www.youtube.com/watch?v=PhIsH7xAbc&list=PLmailteam1", "https://www.youtube.com/v/PhIsH7xAbc",
			"https://www.youtube.com/e/PhIsH7xAbc", "https://www.youtube-nocookie.com/embed/PhIsH7xAbc"},
		"discord invite":  {"https://discord.gg/PhIsH7x", "https://discordapp.com/invite/PhIsH7x"},
		"telegram invite": {"https://t.me/+PhIsH7x", "https://telegram.me/joinchat/PhIsH7x"},
		"whatsapp number": {"https://wa.me/4917012345678", "https://wa.me/+4917012345678"},
		"zoom meeting":    {"https://zoom.us/j/81234567890", "https://app.zoom.us/wc/81234567890/join"},
	} {
		at := func(i int) string { return forms[i%len(forms)] }
		n := lureAt(t, 2845, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure("at "+at(i)) })
		var names []string
		for i := range forms {
			names = append(names, fmt.Sprint(urlTargets(at(i))))
		}
		t.Logf("%s: found at account %d", name, n)
		if n != 5 {
			t.Errorf("%s, forms alternating per copy: found at account %d, want 5 (0: never in 12); named %s", name, n, strings.Join(names, ", "))
		}
	}
}
