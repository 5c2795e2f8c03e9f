package campaign

import (
	"fmt"
	"testing"
)

// TestReviewPlatformRedirect: the lure's link through a social
// network's redirector (Facebook's l.php, YouTube's and LinkedIn's
// redirect), its token of each copy's own, sends every reader to the
// run's one site: found at the 5th account. Before, none was found in
// 12 (the platform link named by its whole query, the token in it).
func TestReviewPlatformRedirect(t *testing.T) {
	tok := func(i int) uint64 { return uint64(i+1) * 0x9e3779b97f4a7c15 }
	for name, at := range map[string]func(i int) string{
		"facebook": func(i int) string {
			return fmt.Sprintf("at https://l.facebook.com/l.php?u=https%%3A%%2F%%2Fsecure-login.phish.example%%2Fv&h=AT%x", tok(i))
		},
		"youtube": func(i int) string {
			return fmt.Sprintf("at https://www.youtube.com/redirect?event=comments&redir_token=%x&q=https%%3A%%2F%%2Fsecure-login.phish.example%%2Fv", tok(i))
		},
		"linkedin": func(i int) string {
			return fmt.Sprintf("at https://www.linkedin.com/redir/redirect?url=https%%3A%%2F%%2Fsecure-login.phish.example%%2Fv&urlhash=%x", tok(i))
		},
	} {
		if n := lureAt(t, 2830, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure(at(i)) }); n != 5 {
			t.Errorf("%s redirector: found at account %d, want 5", name, n)
		}
	}
	// Organisations sharing their own site through the platform are
	// each their own target still.
	shape := func(i int, site, own string) (string, string) {
		return "text/plain", own + fmt.Sprintf("\n\nShare: https://www.facebook.com/sharer/sharer.php?u=https%%3A%%2F%%2F%s%%2Fnews\n\n", site) + optInNotice
	}
	if newsletterCampaign(t, shape, true) {
		t.Error("organisations sharing their own sites through Facebook are a campaign")
	}
}

// TestReviewIDNForms: the lure's internationalised domain written in
// Unicode in some copies and in Punycode in others is one target:
// found at the 5th account. Before, at the 9th (Unicode folded to
// "secure-login", Punycode kept: two targets, four copies each).
func TestReviewIDNForms(t *testing.T) {
	forms := []string{"at https://secure-lögin.example/v", "at https://XN--SECURE-LGIN-YFB.example./v"}
	if n := lureAt(t, 2831, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure(forms[i%2]) }); n != 5 {
		t.Errorf("found at account %d, want 5", n)
	}
	for _, f := range forms {
		if ids, _ := targetsOf(f); len(ids) != 1 || ids[0] != "url:secure-login.example" {
			t.Errorf("targetsOf(%q) = %q", f, ids)
		}
	}
}

// TestReviewSocialPageTokens: one social network page of the run's,
// its link made each copy's own by a token in its query, the case of
// its path or a trailing "/", is one target: found at the 5th account.
// Before, none was found in 12 (a page named by its whole query and
// path as written). A profile's id and a video's stay their names.
func TestReviewSocialPageTokens(t *testing.T) {
	for name, at := range map[string]func(i int) string{
		"token in the query": func(i int) string {
			return fmt.Sprintf("at https://www.facebook.com/mailbox.help?ref=%x", uint64(i+1)*0x9e3779b97f4a7c15)
		},
		"case of the path": func(i int) string {
			p := []byte("mailbox.help")
			for k := range p {
				if i>>k&1 == 1 && p[k] >= 'a' && p[k] <= 'z' {
					p[k] -= 'a' - 'A'
				}
			}
			return "at https://www.instagram.com/" + string(p) + []string{"", "/"}[i%2]
		},
	} {
		if n := lureAt(t, 2832, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure(at(i)) }); n != 5 {
			t.Errorf("%s: found at account %d, want 5", name, n)
		}
	}
	for f, want := range map[string]string{
		"https://www.facebook.com/profile.php?id=1234&ref=x": "url:facebook.com/profile.php?id=1234",
		"https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3":    "url:youtu.be/dqw4w9wgxcq", // one video however linked (youtubeVideo)
	} {
		if got := urlTargets(f); len(got) != 1 || got[0] != want {
			t.Errorf("urlTargets(%q) = %q, want %q", f, got, want)
		}
	}
}

// TestReviewIPForms: the lure's server by its address, written in each
// copy another way a browser reads as the same (decimal, octal, hex,
// fewer parts), is one target: found at the 5th account. Before, none
// was found in 12 (each way its own target; and every address "url:"
// and its last two numbers).
func TestReviewIPForms(t *testing.T) {
	forms := []string{"192.0.2.7", "3221225991", "0xC0.0.2.7", "0300.0.2.7", "192.0.519", "0xC0000207", "192.0x0.2.7", "0300.0.0x2.7", "192.000.2.7", "192.0.02.7", "192.0.2.07", "192.0.2.0x7."}
	if n := lureAt(t, 2834, plainSubject, "text/plain", func(i int, own string) string { return own + "\n\n" + noticeLure("at http://"+forms[i]+"/v") }); n != 5 {
		t.Errorf("found at account %d, want 5", n)
	}
	for h, want := range map[string]string{"3221225991": "192.0.2.7", "10.0.0.1": "10.0.0.1", "1.2.3.256": "", "1.2.65536": "", "0x": "", "a.b": "", "1.2.3.4.5": "", "08.1.1.1": ""} {
		if got, _ := ipv4(h); got != want {
			t.Errorf("ipv4(%q) = %q, want %q", h, got, want)
		}
	}
	if ids, _ := targetsOf("at http://10.9.2.7/x and http://192.0.2.7/y"); len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("two servers named %q", ids)
	}
}
