package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR3URLSpellings (claim 3): one page in every copy, spelled
// per copy as the WHATWG parser (and the page's server) reads it the
// same: IDNA "ignored" code points other than the soft hyphen (zero-width
// space, word joiner, variation selector, BOM, combining grapheme joiner)
// in the host, a tab/newline inside the host or path, an IPv4 address as
// one integer, octal or in fewer parts, a letter of a page site's path
// percent-encoded (the server decodes it: paypal.me/Mail%54eamDesk is
// the same page), leading spaces and controls in the attribute.
func TestReviewR3URLSpellings(t *testing.T) {
	ign := []string{"\u200b", "\u2060", "\ufe0f", "\ufeff", "\u034f"}
	cases := map[string]func(i int) string{
		"ignored code point in host": func(i int) string {
			h := "paypal.me"
			k := 1 + i%5
			return "https://" + h[:k] + ign[i%len(ign)] + h[k:] + "/MailTeamDesk"
		},
		"ignored code point in phish host": func(i int) string {
			h := "secure-login.phish.example"
			k := 1 + i%5
			return "https://" + h[:k] + ign[i%len(ign)] + h[k:] + "/verify"
		},
		"tab in host": func(i int) string {
			h := "paypal.me"
			k := 1 + i%7
			return "https://" + h[:k] + "\t" + h[k:] + "/MailTeamDesk"
		},
		"newline in path": func(i int) string {
			p := "MailTeamDesk"
			k := 1 + i%10
			return "https://paypal.me/" + p[:k] + "\n" + p[k:]
		},
		"IPv4 forms": func(i int) string {
			return "https://" + []string{"192.0.2.7", "3221225991", "0300.0.2.7", "192.0.519", "192.519", "0xc0000207", "0300.0.02.07"}[i%7] + "/login"
		},
		"page path letter percent-encoded": func(i int) string {
			p := "MailTeamDesk"
			k := i % len(p)
			return "https://paypal.me/" + p[:k] + fmt.Sprintf("%%%02X", p[k]) + p[k+1:]
		},
		"leading space/control in attribute": func(i int) string {
			return strings.Repeat(" ", i%3) + strings.Repeat("\x01", i%2) + "https://paypal.me/MailTeamDesk" + strings.Repeat(" ", i%2)
		},
	}
	wantHrefRunsFound(t, cases)
}

// TestReviewR3TabBeforeAt (claim 3): the WHATWG parser drops every tab
// and newline of a URL before it reads it, so "https://decoy.example<TAB>@
// secure-login.phish.example/verify" is userinfo "decoy.example" at host
// secure-login.phish.example (Chromium 'new URL(x).href' and an <a>'s
// href: "https://decoy1.example@secure-login.phish.example/verify").
// HELD: the attribute's reading (browserURL) drops them and names
// phish.example, the run is found at the 5th; only the test helper
// targetsOfHref (a text link's reading, where a tab ends the link)
// names the decoy. The raw tab, a newline and &Tab;/&#10; alike.
func TestReviewR3TabBeforeAt(t *testing.T) {
	var missed []string
	for name, sep := range map[string]string{"raw tab": "\t", "raw newline": "\n", "&Tab;": "&Tab;", "&#10;": "&#10;"} {
		href := func(i int) string {
			return fmt.Sprintf("https://account-%d-microsoft.com%s@secure-login.phish.example/verify", i, sep)
		}
		at := hrefLureAt(t, 2845, href)
		ids := []string{}
		for _, i := range []int{1, 2} {
			ids = append(ids, fmt.Sprint(targetsOfHref(strings.ReplaceAll(strings.ReplaceAll(href(i), "&Tab;", "\t"), "&#10;", "\n"))))
		}
		t.Logf("%s: found at %d; copies 1-2 named %s", name, at, strings.Join(ids, ", "))
		if at != 5 {
			missed = append(missed, fmt.Sprintf("%s before '@': found at account %d (0: never in 12); copies 1-2 named %s (the browser: secure-login.phish.example)", name, at, strings.Join(ids, ", ")))
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d one-page runs not found at the 5th account:\n%s", len(missed), strings.Join(missed, "\n"))
	}
}
