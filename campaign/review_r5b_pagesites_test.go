package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR5bTelegramSubdomainMerged: Telegram's own link syntax
// (core.telegram.org/api/links: "<username>.t.me ... should be treated
// exactly as a t.me/<username>/ link") names a channel by the host. The
// t.me page site reads only the path: every organisation's
// https://CHANNEL.t.me is the one target "url:t.me/", so twelve
// organisations, each linking its own channel under the shared opt-in
// notice, are one campaign's target.
func TestReviewR5bTelegramSubdomainMerged(t *testing.T) {
	wantOwnPagesInnocent(t, map[string]func(i int) string{
		"Telegram channel as <username>.t.me":      func(i int) string { return fmt.Sprintf("https://club%dnews.t.me", i) },
		"Telegram channel as <username>.t.me/":     func(i int) string { return fmt.Sprintf("https://club%dnews.t.me/", i) },
		"Telegram channel post <username>.t.me/ID": func(i int) string { return fmt.Sprintf("https://club%dnews.t.me/%d", i, 100+i) },
	}, "variants a campaign")
}

// TestReviewR5bOneChatSplit: one chat or channel spelt per copy as the
// apps open it is one target per spelling: a run rotating the
// spellings is not found at the 5th account. telegram.dog is t.me's
// documented alias; <username>.t.me is t.me/<username>; wa.me/ with
// the number's "+" and spaces escaped in the path (%2B49%20151…) is
// not folded by chatNumber (the path stays escaped, the "%" makes it
// "anything else"); a host-named page (a SharePoint tenant) written
// with the DNS root's trailing dot is another host (paypal.com. and
// calendly.com. are folded; the tenant's host is kept as written).
func TestReviewR5bOneChatSplit(t *testing.T) {
	tg := []string{"https://t.me/securedesk", "https://telegram.dog/securedesk", "https://securedesk.t.me/", "https://telegram.me/securedesk"}
	wa := []string{"https://wa.me/4915112345678", "https://wa.me/%2B49%20151%2012345678", "https://wa.me/49%20151%2012345678", "https://wa.me/%2B49%201511%20234%205678"}
	wantHrefRunsFound(t, map[string]func(i int) string{
		"Telegram channel, 4 spellings": func(i int) string { return tg[i%len(tg)] },
		"WhatsApp chat, 4 spellings":    func(i int) string { return wa[i%len(wa)] },
		"SharePoint file, tenant host with and without the root's trailing dot": func(i int) string {
			return []string{"https://contoso.sharepoint.com/:b:/g/personal/a/EaBc", "https://contoso.sharepoint.com./:b:/g/personal/a/EaBc"}[i%2]
		},
	})
}

// TestReviewR5bOwnPagesMerged: organisations' own pages on page sites
// (or their short links) that the refactored table names by the site
// alone: WhatsApp Business's catalogue wa.me/c/NUMBER is "wa.me/c" (the
// wa.me page site's own function), a Drive file's
// drive.google.com/open?id=ID is "google/open" (the google page site),
// and fb.me/NAME, g.page/NAME (a Google business profile), wa.link/CODE,
// buy.stripe.com/CODE, square.link/u/CODE, a Teams meeting, a Canva
// design are each the site's one "url:" target. Twelve organisations,
// each with its own page, under the shared opt-in notice.
func TestReviewR5bOwnPagesMerged(t *testing.T) {
	wantOwnPagesInnocent(t, map[string]func(i int) string{
		"WhatsApp Business catalogue": func(i int) string { return fmt.Sprintf("https://wa.me/c/49151%08d", 1000000+i*7919) },
		"Google Drive open?id=":       func(i int) string { return fmt.Sprintf("https://drive.google.com/open?id=1Qx%dZr%dKp", i, i*13) },
		"Facebook fb.me/NAME":         func(i int) string { return fmt.Sprintf("https://fb.me/club%dtown", i) },
		"Google business g.page/NAME": func(i int) string { return fmt.Sprintf("https://g.page/club%dtown", i) },
		"wa.link short link":          func(i int) string { return fmt.Sprintf("https://wa.link/k%dq%d", i, i*7) },
		"Stripe payment link":         func(i int) string { return fmt.Sprintf("https://buy.stripe.com/4gw%dAb%d", i, i*3) },
		"Square payment link":         func(i int) string { return fmt.Sprintf("https://square.link/u/Sq%dX%d", i, i*5) },
		"Teams meeting": func(i int) string {
			return fmt.Sprintf("https://teams.microsoft.com/l/meetup-join/19%%3ameeting_Zm%dQ%d%%40thread.v2/0", i, i*3)
		},
		"Canva design": func(i int) string { return fmt.Sprintf("https://www.canva.com/design/DAF%dQx%d/view", i, i*9) },
	}, "variants a campaign")
}
