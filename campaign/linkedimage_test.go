package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// socialIcons is an HTML template's social icons, each a cid: part of
// the message whose bytes are the template's (the same for every
// organisation), linking organisation i's own pages.
func socialIcons(i int, own string) (string, string) {
	var links strings.Builder
	var parts []string
	for k, n := range []string{"facebook", "instagram", "youtube"} {
		fmt.Fprintf(&links, `<a href="https://www.%s.com/club%d"><img src="cid:%s-icon" width="24" alt="%s"></a> `, n, i, n, n)
		parts = append(parts, imagePart(7770+k, n+"-icon", "inline"))
	}
	return withParts("related", fmt.Sprintf("<html><body><p>%s</p><p>%s</p><p>%s</p></body></html>", own, links.String(), optInNotice), true, parts...)
}

// TestLinkedImageOwnLinks: twelve organisations whose template's social
// icons (one content for all) link their own pages are no campaign: an
// image that is a link's content is the link's asset, the target the
// link the reader clicks. Before: the icons one target of all, a
// campaign.
func TestLinkedImageOwnLinks(t *testing.T) {
	for _, consumer := range []bool{false, true} {
		if newsletterCampaign(t, func(i int, site, own string) (string, string) { return socialIcons(i, own) }, consumer) {
			t.Errorf("template's social icons as cid: parts (consumer logins %v): a campaign", consumer)
		}
	}
}

// TestLinkedImageNoEvasion: the lure written as the notice with one
// image the same in every copy is found at the 5th account when the
// image is in no link (a QR code, a banner) or in a link of its own
// elsewhere in the message, and when every copy's linked image goes to
// one page (a tracking token of each copy's own on it).
func TestLinkedImageNoEvasion(t *testing.T) {
	for name, html := range map[string]func(i int) string{
		"a QR code in no link":             func(i int) string { return `<img src="cid:qr">` },
		"a banner in no link, in a <span>": func(i int) string { return `<span><img src="CID:qr" width="600"></span>` },
		"the linked image's link one page": func(i int) string {
			return fmt.Sprintf(`<a href="https://secure-login.phish.example/v?c=%d"><img src="cid:qr"></a>`, i)
		},
		"the QR closed in an empty link": func(i int) string { return `<a href="#"><img src="cid:qr"></a>` },
		"the QR after a link that is closed": func(i int) string {
			return fmt.Sprintf(`<a href="https://own%d.example/">our site</a><img src="cid:qr">`, i)
		},
		"the QR also shown outside a link": func(i int) string {
			return fmt.Sprintf(`<a href="https://own%d.example/"><img src="cid:qr"></a><p><img src="cid:qr"></p>`, i)
		},
	} {
		at := lureAt(t, 2848, plainSubject, "multipart/related; boundary=zz", func(i int, own string) string {
			// In a block of its own: a link right after the notice's
			// paragraph is read as its last line's (the notice not cut).
			_, b := withParts("related", fmt.Sprintf("<html><body><p>%s</p><p>%s</p><div>%s</div></body></html>", own, noticeLure("by scanning the code below"), html(i)), true,
				imagePart(4242, "qr", "inline"))
			return b
		})
		if at != 5 {
			t.Errorf("%s: found at account %d, want 5", name, at)
		}
	}
}

// TestLinkedImageLimits: what the rule lets through, as
// docs/suspension.md says: one QR code inside a link to a registered
// domain of each copy's own is that link's asset, and the run is not
// found, as a domain per copy is not. If it is found, the docs are to be
// updated.
func TestLinkedImageLimits(t *testing.T) {
	at := lureAt(t, 2849, plainSubject, "multipart/related; boundary=zz", func(i int, own string) string {
		_, b := withParts("related", fmt.Sprintf(`<html><body><p>%s</p><p>%s</p><div><a href="https://mailbox-help-%d.com/"><img src="cid:qr"></a></div></body></html>`, own, noticeLure("by scanning the code below"), i), true,
			imagePart(4242, "qr", "inline"))
		return b
	})
	if at != 0 {
		t.Errorf("a QR in a link to a domain per copy: found at account %d: a documented limit no longer is one (docs/suspension.md)", at)
	}
}
