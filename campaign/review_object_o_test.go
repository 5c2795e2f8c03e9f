package campaign

import (
	"fmt"
	"testing"
)

// TestReviewNoticeObjectQR (reviewer ro, issue 28 claims 2/3): the lure
// written as the notice in HTML, its QR code (or the lure's page) shown
// by an <object data=…> (WebKit's Apple Mail renders an object of an
// image type as the image): one remote image for every copy, or the
// same QR as inline data. htmlPayloads reads href, src, action,
// background, poster, srcset, xlink:href and CSS url(), not object's
// "data": with the QR as inline data the message has no payload, its
// notice is cut and the copies share nothing but the notice (the same
// in <img src> or CSS url() is "any": found). Want: found at the 5th
// account as the <img> shapes are (TestPageSiteNoEvasion); got: the
// remote image is found (its link is seen in the source), the inline
// data: one never in 12.
func TestReviewNoticeObjectQR(t *testing.T) {
	for name, obj := range map[string]string{
		"remote image": `<object data="https://qr.phish.example/code.png" type="image/png" width="200" height="200"></object>`,
		"inline data:": `<object data="data:image/png;base64,` + orgImage(999) + `" type="image/png"></object>`,
	} {
		at := lureAt(t, 2843, plainSubject, "text/html", func(i int, own string) string {
			return fmt.Sprintf(`<html><body><p>%s</p><p>%s</p>%s</body></html>`, own, noticeLure("by scanning the code below"), obj)
		})
		if at != 5 {
			t.Errorf("%s: found at account %d, want 5 (0: never in 12)", name, at)
		}
	}
}
