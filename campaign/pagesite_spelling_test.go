package campaign

import "testing"

// TestPageSiteOneSpelling: one page however a copy spells its host or its
// number is one target (the differential check of the page sites'
// refactor found each pair two): a SharePoint tenant in Unicode and in
// Punycode, youtu.be with a look-alike letter, a WhatsApp chat's "+"
// escaped or its number spaced. Other pages stay apart.
func TestPageSiteOneSpelling(t *testing.T) {
	target := func(f string) string {
		id, _, ok := urlTarget(f)
		if !ok {
			t.Fatalf("%s: no link", f)
		}
		return id
	}
	for _, p := range [][2]string{
		{"https://xn--mnchen-3ya.sharepoint.com/:b:/g/personal/a/EaBc", "https://münchen.sharepoint.com/:b:/g/personal/a/EaBc"},
		{"https://yоutu.be/AbCdEf", "https://youtu.be/AbCdEf"},
		{"https://wa.me/%2B4915112345678", "https://wa.me/4915112345678"},
		{"https://wa.me/+4915112345678", "https://api.whatsapp.com/send?phone=%2B4915112345678&text=hi"},
		{"https://api.whatsapp.com/send?phone=49%20151%2012345678", "https://wa.me/4915112345678"},
	} {
		if a, b := target(p[0]), target(p[1]); a != b {
			t.Errorf("%s and %s, one page: targets %q and %q", p[0], p[1], a, b)
		}
	}
	for _, p := range [][2]string{
		{"https://wa.me/4915112345678", "https://wa.me/4915112345679"},
		{"https://wa.me/message/ABCDEF", "https://wa.me/message/ABCDEG"},
		{"https://münchen.sharepoint.com/:b:/g/personal/a/EaBc", "https://berlin.sharepoint.com/:b:/g/personal/a/EaBc"},
	} {
		if a, b := target(p[0]), target(p[1]); a == b {
			t.Errorf("%s and %s, two pages: one target %q", p[0], p[1], a)
		}
	}
}
