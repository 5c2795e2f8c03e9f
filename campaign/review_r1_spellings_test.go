package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewR1URLSpellings (review r1, issue 28 claim 2): the lure
// written as the notice in HTML, every copy's button linking ONE page
// (a paypal.me page, or the attacker's own domain), spelled per copy in
// a way every browser (the WHATWG URL parser) opens as the same URL:
// the scheme's and host's case, backslashes for slashes, a default port
// (with leading zeros), userinfo, a trailing dot in the host, a letter of
// the host percent-encoded or full-width (UTS 46 maps it), a soft hyphen
// in the host, %2e dot segments, a fragment, a query of its own.
// docs/suspension.md: "a run pointing every copy at ONE page (written
// differently per copy) must be found at the fifth account".
func TestReviewR1URLSpellings(t *testing.T) {
	caseMix := func(s string, i int) string {
		b := []byte(s)
		for k := range b {
			if i>>(k%5)&1 == 1 && b[k] >= 'a' && b[k] <= 'z' {
				b[k] -= 32
			}
		}
		return string(b)
	}
	slashes := func(i int) string { // a mix of / and \ per copy
		out := ""
		for k := range 2 + i%3 {
			if i>>k&1 == 1 {
				out += `\`
			} else {
				out += "/"
			}
		}
		return out
	}
	pctHost := func(h string, i int) string {
		k := i % len(h)
		if h[k] == '.' {
			k++
		}
		return h[:k] + fmt.Sprintf("%%%02X", h[k]) + h[k+1:]
	}
	fullwidth := func(h string, i int) string {
		k := i % len(h)
		if h[k] == '.' {
			k++
		}
		return h[:k] + string(rune(0xFF00+int(h[k])-0x20)) + h[k+1:]
	}
	soft := func(h string, i int) string { k := 1 + i%(len(h)-1); return h[:k] + "\u00ad" + h[k:] }
	cases := map[string]func(i int) string{
		"paypal.me plain (control)":     func(i int) string { return "https://paypal.me/MailTeamDesk" },
		"phish domain plain (control)":  func(i int) string { return "https://secure-login.phish.example/verify" },
		"scheme and host case":          func(i int) string { return caseMix("https://paypal.me", i) + "/MailTeamDesk" },
		"backslashes":                   func(i int) string { return "https:" + slashes(i) + `paypal.me\MailTeamDesk` },
		"default port, leading zeros":   func(i int) string { return "https://paypal.me:" + strings.Repeat("0", i%6) + "443/MailTeamDesk" },
		"userinfo":                      func(i int) string { return fmt.Sprintf("https://u%d:x@paypal.me/MailTeamDesk", i) },
		"userinfo, phish domain":        func(i int) string { return fmt.Sprintf("https://paypal.com%d@secure-login.phish.example/verify", i) },
		"trailing dot (every other)":    func(i int) string { return "https://paypal.me" + strings.Repeat(".", i%2) + "/MailTeamDesk" },
		"host letter percent-encoded":   func(i int) string { return "https://" + pctHost("paypal.me", i) + "/MailTeamDesk" },
		"host letter full-width":        func(i int) string { return "https://" + fullwidth("paypal.me", i) + "/MailTeamDesk" },
		"soft hyphen in host":           func(i int) string { return "https://" + soft("paypal.me", i) + "/MailTeamDesk" },
		"%2e dot segment":               func(i int) string { return fmt.Sprintf("https://paypal.me/r%d/%%2e%%2E/MailTeamDesk", i) },
		"fragment":                      func(i int) string { return fmt.Sprintf("https://paypal.me/MailTeamDesk#r%d", i) },
		"query of its own":              func(i int) string { return fmt.Sprintf("https://paypal.me/MailTeamDesk?r=%d", i) },
		"phish domain, full-width":      func(i int) string { return "https://" + fullwidth("secure-login.phish.example", i) + "/verify" },
		"phish domain, percent-encoded": func(i int) string { return "https://" + pctHost("secure-login.phish.example", i) + "/verify" },
		"phish domain, trailing dot/case": func(i int) string {
			return "https://" + caseMix("secure-login.phish.example", i) + strings.Repeat(".", i%2) + "/verify"
		},
		"ideographic full stop in host": func(i int) string {
			return "https://paypal" + []string{".", "\u3002", "\uff0e", "\uff61"}[i%4] + "me/MailTeamDesk"
		},
		"empty port": func(i int) string { return "https://paypal.me" + strings.Repeat(":", i%2) + "/MailTeamDesk" },
		"tab/newline in scheme": func(i int) string {
			return "ht\ntps://paypal.me/MailTeamDesk"[:0] + "htt" + []string{"", "\t", "\n"}[i%3] + "ps://paypal.me/MailTeamDesk"
		},
		"alternating plain / https:host": func(i int) string { return "https:" + strings.Repeat("//", i%2) + "paypal.me/MailTeamDesk" },
		"alternating plain / %-host":     func(i int) string { return "https://" + []string{"paypal.me", "p%61ypal.me"}[i%2] + "/MailTeamDesk" },
		"alternating, phish domain":      func(i int) string { return "https:" + strings.Repeat("//", i%2) + "secure-login.phish.example/verify" },
		"entity &period; in host": func(i int) string {
			return "https://paypal" + []string{".", "&period;", "&#46;", "&#x2E;", "&#x2e", "&#0000046;"}[i%6] + "me/MailTeamDesk"
		},
		"entity &sol;/&colon;": func(i int) string {
			return "https" + []string{":", "&colon;"}[i%2] + []string{"//", "&sol;&sol;", "/&#47;"}[i%3] + "paypal.me/MailTeamDesk"
		},
		"entity &NewLine;/&Tab; split": func(i int) string {
			u := "https://paypal.me/MailTeamDesk"
			k := 10 + i%15
			return u[:k] + []string{"&NewLine;", "&Tab;", "&#10;", "&#x9"}[i%4] + u[k:]
		},
		"entity in phish domain": func(i int) string {
			u := "https://secure-login.phish.example/verify"
			k := 9 + i%20
			return u[:k] + []string{"&NewLine;", "&Tab;", "&#10;", "&#x9"}[i%4] + u[k:]
		},
		"no slashes after scheme": func(i int) string { return "https:" + strings.Repeat("/", i%3) + "paypal.me/MailTeamDesk" },
	}
	wantHrefRunsFound(t, cases)
}

// wantHrefRunsFound: each one-page run of cases, copy i's button linking
// href(i) (hrefLureAt), is found at the 5th account; each is logged, and
// listed in the error when it is not, with the targets copies 1-3's
// links are given (targetsOfHref).
func wantHrefRunsFound(t *testing.T, cases map[string]func(i int) string) {
	t.Helper()
	var missed []string
	for name, href := range cases {
		at := hrefLureAt(t, 2845, href)
		ids := []string{}
		for _, i := range []int{1, 2, 3} {
			ids = append(ids, fmt.Sprint(targetsOfHref(href(i))))
		}
		t.Logf("%s: found at %d; copies 1-3 named %s", name, at, strings.Join(ids, ", "))
		if at != 5 {
			missed = append(missed, fmt.Sprintf("%s: found at account %d (0: never in 12); copies 1-3 named %s", name, at, strings.Join(ids, ", ")))
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d of %d one-page runs not found at the 5th account:\n%s", len(missed), len(cases), strings.Join(missed, "\n"))
	}
}
