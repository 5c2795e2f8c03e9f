package campaign

import (
	"slices"
	"strings"
	"testing"
)

// TestFooterCut: a list's footer is cut off the end of the text, within
// its bounds: at most footerMax words, a footer term in every
// footerDensity words, an unsubscribe term and another one, its links in
// labels (labelledLinks). Outside them it is text.
func TestFooterCut(t *testing.T) {
	news := "The choir will rehearse on Tuesday evenings again from next week and would love to welcome new singers at the old church."
	long := strings.Repeat("more words of the footer ", 10)
	for name, c := range map[string]struct {
		text string
		cut  bool
	}{
		"provider footer":         {news + "\n\n" + providerFooter, true},
		"in HTML":                 {"<p>" + news + "</p><div>" + strings.ReplaceAll(providerFooter, "\n", " ") + "</div>", true},
		"over footerMax words":    {news + "\n\n" + strings.ReplaceAll(providerFooter, "\n", " ") + " " + long, false},
		"too few footer terms":    {news + "\n\nYou are receiving this because volunteers keep in touch with their members of the association, who write to each other about the weather, the garden, the choir and the summer trips. Unsubscribe here.", false}, // one sentence of 31 words: no shared notice either (cutBoilerplate)
		"no unsubscribe term":     {news + "\n\n" + strings.NewReplacer("unsubscribe", "leave", "Unsubscribe", "Leave").Replace(providerFooter), false},
		"only unsubscribe":        {news + "\n\nUnsubscribe from the volunteers at any time.", false},
		"not at the end":          {news + "\n\n" + providerFooter + "\n\n" + news + " " + news + " " + news + " " + news, false},
		"footer terms, then text": {news + "\n\nUnsubscribe from our newsletter here.\n\n" + long + " and the volunteers", false},
		// footerLabel: a link's sentence of 8 words besides the link,
		// not 9; no number to call.
		"a label of 8 words":   {news + "\n\n" + strings.Replace(providerFooter, "for free:", "for free, right now:", 1), true},
		"a label of 9 words":   {news + "\n\n" + strings.Replace(providerFooter, "for free:", "for free, right here now:", 1), false},
		"a link asking to act": {news + "\n\n" + strings.Replace(providerFooter, "Create your own newsletter for free:", "To keep receiving this newsletter, confirm your subscription now at", 1) + " with your login.", false},
		"a number to call":     {news + "\n\n" + strings.Replace(providerFooter, "u/abc", "u/abc or call 0800 123 456 78", 1), false},
	} {
		html := strings.HasPrefix(c.text, "<p>")
		if got := !slices.Contains(Normalize(c.text, html, nil), "volunteers"); got != c.cut {
			t.Errorf("%s: cut %v, want %v: %q", name, got, c.cut, Normalize(c.text, html, nil))
		}
	}
	if !slices.Contains(Normalize(news+" volunteers", false, nil), "volunteers") {
		t.Fatal("the test's word is no token")
	}
}

// TestFooterNoEvasion: a run's text keeps its keys under or around a
// footer: the phishing text with the provider's footer under it, an
// unsubscribe line above and below it, or itself said to be a newsletter
// once: found at the 5th account.
func TestFooterNoEvasion(t *testing.T) {
	for name, wrap := range map[string]func(b string) string{
		"footer under it": func(b string) string { return b + "\n\n" + providerFooter },
		"unsubscribe around it": func(b string) string {
			return "You are receiving this newsletter as a subscriber. Unsubscribe: https://x.example/u\n\n" + b + "\n\nUnsubscribe: https://x.example/u"
		},
		"one paragraph with the terms": func(b string) string {
			return strings.ReplaceAll(b, "\n\n", " ") + " You received this newsletter as a subscriber; unsubscribe at any time."
		},
	} {
		t.Run(name, func(t *testing.T) {
			if at := foundAt(t, 40, func(i int) (string, []byte) {
				rcpt, h, b := phishBody(i)
				return rcpt, []byte(h + "\n\n" + wrap(b) + "\n")
			}); at != 5 {
				t.Fatalf("found at account %d, want 5", at)
			}
		})
	}
}
