package campaign

import (
	"fmt"
	"testing"
)

// TestReviewR4PageSiteMergedOrganisations (review r4, issue 28 claim 5):
// innocent organisations whose own pages the page-site naming makes one
// target. SharePoint is named "sharepoint.com" whatever the tenant's
// host, and shareKind drops ":w:/r/": twelve organisations each linking
// their own intranet's "/sites/HR/Shared Documents/Employee Handbook.docx"
// (contoso.sharepoint.com, fabrikam.sharepoint.com, …) or their own
// "/sites/Intranet" are one target. Meetup's locale: a group whose name
// is two letters (meetup.com/js, /ux, /ai …) loses its name as a
// "locale", every such group's event is "meetup.com/events". A
// newsletter's "share on WhatsApp" button (api.whatsapp.com/send?text=,
// no phone: the page is "whatsapp.com/send" whatever the text) and a
// channel's live page (youtube.com/live_stream?channel=ID: the channel
// not kept) are one target for every organisation. Each under
// the shared opt-in notice (newsletterCampaign, as
// TestReviewR1PageSiteOtherForms); a campaign means organisations held
// and suspended. A tenant's personal file link (control) is its own.
func TestReviewR4PageSiteMergedOrganisations(t *testing.T) {
	two := []string{"js", "ux", "ai", "qa", "ml", "vr", "go", "db", "hr", "pr", "it", "ar"}
	links := map[string]func(i int) string{
		"SharePoint personal file (control)": func(i int) string {
			return fmt.Sprintf("https://org%d-my.sharepoint.com/:b:/g/personal/jane_org%d_example/E%dQz%dKx?e=Ab%d", i, i, i, i*13, i)
		},
		"SharePoint :w:/r/ same path, own tenant": func(i int) string {
			return fmt.Sprintf("https://org%d.sharepoint.com/:w:/r/sites/HR/Shared%%20Documents/Employee%%20Handbook.docx?d=w%x&csf=1&web=1", i, 0x9e3779b9*(i+1))
		},
		"SharePoint /sites/Intranet, own tenant": func(i int) string { return fmt.Sprintf("https://org%d.sharepoint.com/sites/Intranet", i) },
		"WhatsApp share button (send?text=)": func(i int) string {
			return fmt.Sprintf("https://api.whatsapp.com/send?text=Read%%20the%%20org%d%%20newsletter%%20https%%3A%%2F%%2Forg%d.example%%2Fnews", i, i)
		},
		"YouTube channel live_stream?channel=": func(i int) string {
			return fmt.Sprintf("https://www.youtube.com/live_stream?channel=UC%dxQz%dAb", i, i*37)
		},
		"Meetup two-letter group's event": func(i int) string {
			return fmt.Sprintf("https://www.meetup.com/%s/events/%d/", two[i], 300100200+i*7919)
		},
	}
	wantOwnPagesInnocent(t, links, "variants of twelve organisations' own pages a campaign")
}
