package campaign

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewHrefNewline (reviewer ro, issue 28 claim 2): the lure
// written as the notice in HTML, every copy linking ONE page, the href
// split by a newline (or a tab) at a place of each copy's own. The
// WHATWG URL parser every browser and WebKit/Gecko/Blink mail client
// uses removes ASCII tabs and newlines from a URL before parsing it, so
// every copy opens the same page. targetsOf splits the value at the
// whitespace and names the part before it: "url:phish.exa",
// "url:phish.exam", ... or "url:paypal.me/ma", "url:paypal.me/mai", ...:
// a target per copy, never found (want: the 5th account, as the same
// link unsplit is).
func TestReviewHrefNewline(t *testing.T) {
	split := func(u string, i int, sep string) string {
		k := len(u) - 3 - i%6
		return u[:k] + sep + u[k:]
	}
	cases := map[string]func(i int) string{
		"unsplit (control)":  func(i int) string { return "https://secure-login.phish.example/verify" },
		"domain, newline":    func(i int) string { return split("https://secure-login.phish.example", i, "\n") },
		"domain, tab":        func(i int) string { return split("https://secure-login.phish.example", i, "\t") },
		"paypal.me, newline": func(i int) string { return split("https://paypal.me/MailTeamDesk", i, "\n") },
	}
	var missed []string
	for name, href := range cases {
		at := hrefLureAt(t, 2844, href)
		if at != 5 {
			ids := []string{}
			for _, i := range []int{1, 2} {
				ids = append(ids, fmt.Sprint(targetsOfHref(href(i))))
			}
			missed = append(missed, fmt.Sprintf("%s: found at account %d (0: never in 12); copies 1, 2 named %s", name, at, strings.Join(ids, ", ")))
		}
	}
	if len(missed) > 0 {
		t.Errorf("%s", strings.Join(missed, "\n"))
	}
}

func targetsOfHref(v string) []string { ids, _ := targetsOf(v); return ids }

// hrefLureAt is the account at which the run is found (lureAt, seed)
// whose copy i is the lure written as the notice in HTML under its own
// 30 words, its button linking href(i).
func hrefLureAt(t *testing.T, seed uint64, href func(i int) string) int {
	return lureAt(t, seed, plainSubject, "text/html", func(i int, own string) string {
		return fmt.Sprintf(`<html><body><p>%s</p><p>%s</p><p><a href="%s">Verify now</a></p></body></html>`, own, noticeLure("with the button below"), href(i))
	})
}
