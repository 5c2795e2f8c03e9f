package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR5cOneChatSplit (review r5c, claim 4): one page spelt per copy
// in forms the new page-site entries do not fold, each a target of its
// own: a run rotating them is not found at the 5th account. The
// Telegram host CHANNEL.t.me is read from the raw host (u.Hostname()),
// so with the DNS root's trailing dot ("securedesk.t.me.") or in
// upper case it is another target; WhatsApp's catalogue wa.me/c/NUMBER
// keeps the number as written (%2B, spaces), not chatNumber's digits;
// the google page site now keeps any id= (a per-copy id= on a Maps
// place or Drive file view makes each copy its own target); one Drive
// file as open?id=ID, file/d/ID/view and uc?id=ID is three targets; a
// Teams meeting link with its "19:…@thread" escaped or not is two.
func TestReviewR5cOneChatSplit(t *testing.T) {
	tg := []string{"https://securedesk.t.me/", "https://securedesk.t.me./", "https://SecureDesk.t.me/", "https://t.me/securedesk"}
	cat := []string{"https://wa.me/c/4915112345678", "https://wa.me/c/%2B4915112345678", "https://wa.me/c/%2B49%20151%2012345678", "https://wa.me/c/+4915112345678"}
	wantHrefRunsFound(t, map[string]func(i int) string{
		"Telegram CHANNEL.t.me, trailing dot and case": func(i int) string { return tg[i%len(tg)] },
		"WhatsApp catalogue, number spellings":         func(i int) string { return cat[i%len(cat)] },
		"Maps place, junk id= per copy": func(i int) string {
			return fmt.Sprintf("https://www.google.com/maps/place/Secure+Mail+Desk?id=%d", 7000+i*13)
		},
		"Drive file, junk id= per copy": func(i int) string {
			return fmt.Sprintf("https://drive.google.com/file/d/1AbCdEfGh/view?id=%d", 7000+i*13)
		},
		"Drive file, open?id= / file/d/ID / uc?id=": func(i int) string {
			return []string{"https://drive.google.com/open?id=1AbCdEfGh", "https://drive.google.com/file/d/1AbCdEfGh/view", "https://drive.google.com/uc?export=download&id=1AbCdEfGh"}[i%3]
		},
		"Teams meeting, escaped and plain": func(i int) string {
			return []string{"https://teams.microsoft.com/l/meetup-join/19%3ameeting_ZmQ3%40thread.v2/0", "https://teams.microsoft.com/l/meetup-join/19%3Ameeting_ZmQ3%40thread.v2/0",
				"https://teams.microsoft.com/l/meetup-join/19:meeting_ZmQ3@thread.v2/0"}[i%3]
		},
	})
}

// TestReviewR5cOwnPagesMerged (review r5c, claim 4): organisations' own
// pages still named by the site alone: Telegram CHANNEL.t.me written
// with the root's trailing dot (the raw host has 3 dots, so "t.me/"),
// CHANNEL.telegram.me, and a Teams meeting from Teams free
// (teams.live.com/meet/ID). Twelve organisations under the shared
// opt-in notice, each with its own.
func TestReviewR5cOwnPagesMerged(t *testing.T) {
	wantOwnPagesInnocent(t, map[string]func(i int) string{
		"Telegram CHANNEL.t.me. (trailing dot)":   func(i int) string { return fmt.Sprintf("https://club%dnews.t.me./", i) },
		"Teams free teams.live.com/meet/ID":       func(i int) string { return fmt.Sprintf("https://teams.live.com/meet/93%d8%d41", i, i*7) },
		"Stripe donate link":                      func(i int) string { return fmt.Sprintf("https://donate.stripe.com/4gw%dAb%d", i, i*3) },
		"Telegram private channel t.me/c/ID/POST": func(i int) string { return fmt.Sprintf("https://t.me/c/17%d0%d/%d", i, i*7, 10+i) },
		"Google review link g.page/r/CODE/review": func(i int) string { return fmt.Sprintf("https://g.page/r/CQx%dZr%dKp/review", i, i*13) },
		"Facebook event fb.me/e/CODE":             func(i int) string { return fmt.Sprintf("https://fb.me/e/2Qx%dZr%d", i, i*13) },
		"Canva short link canva.link/CODE":        func(i int) string { return fmt.Sprintf("https://canva.link/k%dq%dz", i, i*7) },
	}, "variants a campaign")
}
