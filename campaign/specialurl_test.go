package campaign

import (
	"slices"
	"testing"
)

// TestSpecialURLHosts: an attribute's link is named as the WHATWG URL
// parser reads a special scheme's URL: slashes and backslashes after
// the scheme in any number (none too), a scheme-relative link, a
// backslash in the path, the host percent-encoded in either case ("%2e"
// a dot, an IPv4 address's digits). Each names the page the plain link
// names; a host that decodes to a forbidden code point opens nothing and
// names nothing ("any", as before).
func TestSpecialURLHosts(t *testing.T) {
	names := func(href string) []string {
		var ids []string
		normalize(`<html><body><p>Hello</p><a href="`+href+`">Verify</a></body></html>`, true, nil).wait.name(func(id string) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		})
		return ids
	}
	for _, href := range []string{
		"https://paypal.me/MailTeamDesk", "https:paypal.me/MailTeamDesk", "https:/paypal.me/MailTeamDesk", "HTTPS:\\\\paypal.me\\MailTeamDesk",
		"https:///paypal.me/MailTeamDesk", `https:/\/\paypal.me/MailTeamDesk`, "//paypal.me/MailTeamDesk", `\\paypal.me\MailTeamDesk`,
		"https://p%61ypal.me/MailTeamDesk", "https://P%41YPAL.me/MailTeamDesk", "https://paypal%2eme/MailTeamDesk", "https://paypal%2Eme/MailTeamDesk",
		"https://%70%61%79%70%61%6c%2e%6d%65/MailTeamDesk", "https://u:p@p%61ypal.me:443/MailTeamDesk", "https:p%61ypal.me/MailTeamDesk?x=1",
		"https://paypal%EF%BC%8Eme/MailTeamDesk", // a full-width full stop, percent-encoded
	} {
		if got := names(href); !slices.Equal(got, []string{"url:paypal.me/mailteamdesk"}) {
			t.Errorf("%s: targets %q, want [url:paypal.me/mailteamdesk]", href, got)
		}
	}
	for _, href := range []string{"https://%31%39%32.0.2.7/x", "https:0xC0.0.2.7/x", "https:\\%31%39%32%2e0%2e2%2e7\\x"} {
		if got := names(href); !slices.Equal(got, []string{"url:192.0.2.7"}) {
			t.Errorf("%s: targets %q, want [url:192.0.2.7]", href, got)
		}
	}
	// A host decoding to what no host holds: no page named.
	for _, href := range []string{"https://paypal%2fme/x", "https://paypal%40me/x", "https://pay%20pal.me/x", "https://pay%zzpal.me/x", "https://pay%22pal.me/x"} {
		if got := names(href); !slices.Equal(got, []string{anyTarget}) {
			t.Errorf("%s: targets %q, want [any]", href, got)
		}
	}
	// Not a special scheme, or no link: as written.
	for _, f := range []string{"mailto:desk@help.example", "javascript:alert(1)", "/relative/path", "news:comp.lang.go", "x"} {
		if got := specialURL(f); got != f {
			t.Errorf("specialURL(%q) = %q", f, got)
		}
	}
}
