package campaign

import (
	"slices"
	"testing"
)

// TestBrowserURLAttributes: a link attribute's value is named as a
// browser opens it (browserURL: ASCII tabs and newlines removed, C0
// controls and spaces trimmed), in the attribute pass and in the
// source pass alike; text, and attributes that are no link, keep their
// line breaks as field separators.
func TestBrowserURLAttributes(t *testing.T) {
	names := func(s string, html bool) []string {
		var ids []string
		normalize(s, html, nil).wait.name(func(id string) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		})
		return ids
	}
	for _, href := range []string{
		"https://secure-login.phish.exa\nmple/v",
		"https://secure-login.phish.exa\tmple/v",
		"https://secure-login.phish.exa\r\nmple/v",
		"\n\x01 https://secure-login.ph\nish.example/v\x1f\t",
		"https://secure\n-login.phish.example/v",
		"https://secure-login.phish.exa&#10;mple/v",
		"https://secure-login.phish.exa&#x9;mple/v",
	} {
		for _, attr := range []string{"href", "src", "action", "background", "HREF"} {
			got := names(`<html><body><p>Hello</p><a `+attr+`="`+href+`">Verify</a><img `+attr+`='`+href+`'></body></html>`, true)
			if !slices.Equal(got, []string{"url:phish.example"}) {
				t.Errorf("%s=%q: targets %q, want [url:phish.example]", attr, href, got)
			}
		}
	}
	// A srcset's line break separates its URLs.
	if got := names(`<html><body><img srcset="https://a.example/a.png 1x,`+"\n"+`https://b.example/b.png 2x"></body></html>`, true); !slices.Equal(got, []string{"url:a.example", "url:b.example"}) {
		t.Errorf("srcset: targets %q, want [url:a.example url:b.example]", got)
	}
	// What loads content is read as an image's src is (an object's
	// data, an embed's src, an input image's src, an old lowsrc).
	for _, tag := range []string{`<object data="https://qr.phish.example/c.png" type="image/png"></object>`, `<embed src="https://qr.phish.example/c.svg">`,
		`<input type="image" src="https://qr.phish.example/b.png">`, `<img lowsrc="https://qr.phish.example/c.png">`, `<video poster="https://qr.phish.example/c.png"></video>`} {
		if got := names(`<html><body><p>Hello</p>`+tag+`</body></html>`, true); !slices.Equal(got, []string{"url:phish.example"}) {
			t.Errorf("%s: targets %q, want [url:phish.example]", tag, got)
		}
	}
	if !htmlPayload(`<object data="data:image/png;base64,iVBORw0KGgo="></object>`) || htmlPayload(`<p data-href="x" data-src="y">Hello</p>`) {
		t.Errorf("object data: not a payload, or a data-* attribute read as one")
	}
	// Not a link attribute: a title's two lines are two links.
	if got := names(`<html><body><p title="https://a.example`+"\n"+`https://b.example">Hello</p></body></html>`, true); !slices.Contains(got, "url:a.example") || !slices.Contains(got, "url:b.example") {
		t.Errorf("title's lines joined: targets %q", got)
	}
	// Text: a link ends at a line break, in HTML's text and in plain text.
	for _, c := range []struct {
		s    string
		html bool
	}{{"<html><body><p>Visit https://club.example\nTomorrow at ten</p></body></html>", true}, {"Visit https://club.example\nTomorrow at ten", false}} {
		if got := names(c.s, c.html); !slices.Equal(got, []string{"url:club.example"}) {
			t.Errorf("text link (html %v): targets %q, want [url:club.example]", c.html, got)
		}
	}
}
