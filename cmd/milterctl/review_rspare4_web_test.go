package main

import (
	"net/url"
	"strings"
	"testing"
)

// TestReviewRspare4WebSpareGuards: claim 4 (the console): the spare's
// POST without a CSRF token (the HTML form), from another origin, or by a
// reviewer is refused; a campaign id with odd characters in the path
// (slash, dot-dot, markup, newline, percent) is answered 404, its
// markup escaped. Holds unless it fails.
func TestReviewRspare4WebSpareGuards(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "campaign: {shared_domains: [isp.test]}\n")
	if code, _ := e.call(t, "admin", "POST", "/campaigns/t1x/spare", url.Values{}); code != 403 {
		t.Errorf("HTML form without a CSRF token: %d, want 403", code)
	}
	if code, _ := e.call(t, "admin", "POST", "/api/campaigns/t1x/spare", url.Values{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("cross-site API spare: %d, want 403", code)
	}
	if code, _ := e.call(t, "reviewer", "POST", "/api/campaigns/t1x/unspare", url.Values{}); code != 403 {
		t.Errorf("reviewer unspare: %d, want 403", code)
	}
	for _, id := range []string{"a%2Fb", "%2e%2e", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "a%0Ab", "%25", "t1x%20OR%201=1"} {
		code, body := e.call(t, "admin", "POST", "/api/campaigns/"+id+"/spare", url.Values{})
		if code != 404 || strings.Contains(body, "<script>") {
			t.Errorf("spare of id %q: %d %s", id, code, body)
		}
	}
}
