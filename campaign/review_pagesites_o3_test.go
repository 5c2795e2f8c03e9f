package campaign

import (
	"fmt"
	"testing"
)

// TestReviewPageSiteListGaps (reviewer ro, issue 28 claim 1): twelve
// organisations under one shared notice, each linking its OWN page on a
// shared site the way the site's share button writes it: YouTube's
// youtu.be share link (youtube.com is a page site, its short host is
// not), Google Forms' forms.gle, Microsoft Forms, Discord and WhatsApp
// Channel invites, a Spotify podcast episode, a Vimeo video. Each is
// "url:" + the site's registrable domain: one target for all twelve,
// a campaign, every organisation suspended.
func TestReviewPageSiteListGaps(t *testing.T) {
	links := map[string]func(i int) string{
		"YouTube share link (youtu.be)": func(i int) string { return fmt.Sprintf("https://youtu.be/Cl%dbV%dx?si=%x", i, i*7, i*31337) },
		"Google Forms (forms.gle)":      func(i int) string { return fmt.Sprintf("https://forms.gle/Fm%dQz%dK", i, i*13) },
		"Microsoft Forms":               func(i int) string { return fmt.Sprintf("https://forms.office.com/r/Ab%dCd%d", i, i*7) },
		"Discord invite":                func(i int) string { return fmt.Sprintf("https://discord.gg/club%dx", i) },
		"Spotify podcast episode": func(i int) string {
			return fmt.Sprintf("https://open.spotify.com/episode/%x?si=%x", uint64(i+1)*0x9e3779b97f4a7c15, i)
		},
		"Vimeo video": func(i int) string { return fmt.Sprintf("https://vimeo.com/%d", 800000000+i*7919) },
	}
	wantOwnPagesInnocent(t, links, "variants a campaign")
}
