package campaign

import "testing"

// TestCanonicalPath: a page site's link written another way names the
// page a request asks for (percent-encoded unreserved characters, dot
// segments, even encoded and above the root; a Maps place's case), and
// what tells two pages apart stays (an encoded "/" is no segment, a
// form's or a short link's id keeps its case).
func TestCanonicalPath(t *testing.T) {
	for f, want := range map[string]string{
		"https://paypal.me/%2e%2E/x/../Club7/5EUR":             "url:paypal.me/club7",
		"https://paypal.me/../../%43lub7":                      "url:paypal.me/club7",
		"https://paypal.me/./Club7":                            "url:paypal.me/club7",
		"https://maps.app.goo.gl/Ab%2fC":                       "url:goo.gl/Ab%2FC",
		"https://maps.app.goo.gl/AbC":                          "url:goo.gl/AbC",
		"https://maps.app.goo.gl/abc":                          "url:goo.gl/abc",
		"https://docs.google.com/forms/d/AbC/viewform":         "url:google/forms/d/AbC/viewform",
		"https://www.google.com/maps/place/TOWN+HALL":          "url:google/maps/place/town+hall",
		"https://www.google.com/Maps/Place/Town+Hall+Two":      "url:google/maps/place/town+hall+two",
		"https://www.google.com/maps/search/Town%20Hall/@1,2z": "url:google/maps/search/town%20hall",
	} {
		if got := urlTargets(f); len(got) != 1 || got[0] != want {
			t.Errorf("urlTargets(%q) = %q, want %q", f, got, want)
		}
	}
}
