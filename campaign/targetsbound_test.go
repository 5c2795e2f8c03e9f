package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// photoShapes are an organisation's news with photos of its own (inline
// image parts) and links to its own sites under the shared notice: more
// targets than the 8 of before, as many as a club's event report has.
var photoShapes = map[string]func(i int, site, own string) (string, string){
	"nine own inline photos": func(i int, site, own string) (string, string) {
		var photos []string
		for k := range 9 {
			photos = append(photos, imagePart(1000*i+k, "", "inline"))
		}
		return withParts("mixed", own+"\n\n"+optInNotice, false, photos...)
	},
	"five own photos and four own links": func(i int, site, own string) (string, string) {
		var photos []string
		for k := range 5 {
			photos = append(photos, imagePart(1000*i+k, "", "inline"))
		}
		var links strings.Builder
		for k := range 4 {
			fmt.Fprintf(&links, " https://shop%d.%s/", k, strings.Replace(site, ".example", fmt.Sprintf("-%d.example", k), 1))
		}
		return withParts("mixed", own+links.String()+"\n\n"+optInNotice, false, photos...)
	},
	"twelve own photos as cid: parts of the HTML": func(i int, site, own string) (string, string) {
		var photos []string
		var imgs strings.Builder
		for k := range 12 {
			photos = append(photos, imagePart(1000*i+k, fmt.Sprintf("p%d", k), "inline"))
			fmt.Fprintf(&imgs, `<img src="cid:p%d">`, k)
		}
		return withParts("related", fmt.Sprintf("<html><body><p>%s</p>%s<p>%s</p></body></html>", own, imgs.String(), optInNotice), true, photos...)
	},
}

// TestNoticeOwnPhotos: twelve organisations each sending their own
// photos and links (9 to 12 targets) under the shared notice are no
// campaign. Before (maxTargets 8): each shape a campaign.
func TestNoticeOwnPhotos(t *testing.T) {
	for name, shape := range photoShapes {
		for _, consumer := range []bool{false, true} {
			if newsletterCampaign(t, shape, consumer) {
				t.Errorf("%s (consumer logins %v): a campaign", name, consumer)
			}
		}
	}
}
