package campaign

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"outguard/internal/hamgen"
	"outguard/mimewalk"
)

// FuzzNormalize: any bytes as a text or HTML part, with any recipient
// names: no panic, at most MaxTokens words, each a non-empty lower-case
// word with no digit, no format or control character, at most 40 bytes
// (a link's domain is "url:" and the domain); and the same input gives
// the same words (every host of a fleet must compute the same keys); and
// fold's ASCII shortcut folds as the full fold does.
// Seeds: testdata/fuzz/FuzzNormalize.
func FuzzNormalize(f *testing.F) {
	f.Add("Dear John,\n\nYour invoice 4711 is at https://pay.example.com/x?t=1\n\n-- \nSig", false, "john.smith")
	f.Add("<p>Hi <b>Ann</b></p><blockquote>quoted</blockquote><a href=\"http://x.example/\">link</a>", true, "ann")
	f.Add("<a href=\"https://x.exa\nmple/&#10;a\">a</a><form action='https://www.paypal.com/donate?x=1'><input type=hidden name=business value=b></form><object data=\"data:x\"></object><img srcset=\"a.png 1x,\nb.png\">", true, "ann")
	f.Add("Nieuws van de club.\n\nWij vragen je nooit om je wachtwoord. Nunca le pediremos su clave de acceso; responda a este correo con su senha. "+
		"Pode atualizar as suas preferências ou cancelar a subscrição desta lista.", false, "ann")
	f.Add("Please open the attached document. It was sent to you using a Xerox multifunction printer.\n\nDevice Name: XRX1\nLocation: Room 2\n"+
		"Attachment File Type: pdf\n\nFor more information on Xerox products and solutions, please visit https://www.xerox.com/\n", false, "ann")
	f.Fuzz(func(t *testing.T, text string, isHTML bool, rcpt string) {
		names := Names(rcpt)
		toks := Normalize(text, isHTML, names)
		if len(toks) > MaxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		for _, tok := range toks {
			if strings.HasPrefix(tok, "url:") {
				continue
			}
			if tok == "" || len(tok) > 40*utf8.UTFMax || names[tok] {
				t.Fatalf("token %q", tok)
			}
			for _, r := range tok {
				if unicode.IsDigit(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || unicode.IsUpper(r) && unicode.ToLower(r) != r {
					t.Fatalf("token %q has %q", tok, r)
				}
			}
		}
		if again := Normalize(text, isHTML, names); strings.Join(again, " ") != strings.Join(toks, " ") {
			t.Fatal("not deterministic")
		}
		// The detectors of spelled.go name a link's domain, a number's
		// digits (at most maxDigits) or a request, and no more.
		if id := spelledLink(text); id != "" && (!strings.HasPrefix(id, "url:") || len(id) > 4+253) {
			t.Fatalf("spelledLink: %q", id)
		}
		if id := spelledNumber(text); id != "" && (!strings.HasPrefix(id, "tel:") || len(id) < 4+spelledMin || len(id) > 4+maxDigits ||
			strings.Trim(id[4:], "0123456789") != "") {
			t.Fatalf("spelledNumber: %q", id)
		}
		if id := askReply(strings.ToLower(text)); id != "" && id != "ask:secret" {
			t.Fatalf("askReply: %q", id)
		}
		// fold's ASCII shortcut is fold.
		if fold(rcpt) != foldRunes(rcpt) {
			t.Fatalf("fold(%q) = %q, foldRunes %q", rcpt, fold(rcpt), foldRunes(rcpt))
		}
	})
}

// FuzzFingerprint: any bytes as a message, walked as the rules' walk
// walks it (archives opened): no panic; the fingerprint is the same
// twice (every host of a fleet must compute the same keys); at most
// MaxKeys text keys and none or at least MinKeys, each "t2" and a hash;
// at most MaxFiles file keys. Seeds:
// testdata/fuzz/FuzzFingerprint.
func FuzzFingerprint(f *testing.F) {
	_, raw := hamgen.Phish(1, true)
	f.Add(raw)
	f.Add([]byte("From: a@b\nTo: c@d\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nHi,\n\n> quoted payload\n--q\nContent-Type: application/zip\n\nPK\x03\x04\n--q--\n"))
	walk := func(raw []byte) (Fingerprint, bool) {
		c := NewCollector(Names("c@d"), Seed{})
		if _, err := mimewalk.Walk(context.Background(), bytes.NewReader(raw), int64(len(raw)), mimewalk.Limits{}, func(it *mimewalk.Item) error {
			c.Item(it)
			return nil
		}); err != nil {
			return Fingerprint{}, false
		}
		c.Done()
		return c.Fingerprint(), c.Complete()
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fp, ok := walk(raw)
		if !ok {
			return
		}
		if again, _ := walk(raw); !slices.Equal(fp.Keys(), again.Keys()) {
			t.Fatal("not deterministic")
		}
		if len(fp.Text) > MaxKeys || len(fp.Text) > 0 && len(fp.Text) < MinKeys || len(fp.Files) > MaxFiles {
			t.Fatalf("%d text keys, %d file keys", len(fp.Text), len(fp.Files))
		}
		for _, k := range fp.Text {
			if !strings.HasPrefix(k, "t"+version) || len(k) > 2+16 {
				t.Fatalf("key %q", k)
			}
		}
	})
}

// FuzzTargets: any text, as a part's text and as an HTML document: no
// panic; every target named is "url:", "mail:", "tel:" and nine digits,
// "ask" or "any"; a text with a payload (linkOrNumber, asksSecret) names
// at least one, so that no payload salts a notice with fewer targets
// than it has; the same text names the same targets. Seeds:
// testdata/fuzz/FuzzTargets.
func FuzzTargets(f *testing.F) {
	f.Add("Call +1 (800) 555-0199 or see https://org3.us5.list-manage.com/track/click?u=1&id=2, secure-login[.]phish[.]com/v, desk(at)help.example, reply with your password")
	f.Add("https://www.paypal.com/donate/?hosted_button_id=AB&x=1 https://www.eventbrite.de/e/a-tickets-12 https://www.google.com/maps/place/X/@1,2z https://paypal.me/a/1")
	f.Add(`<a href=https://www.paypal.com/donate/?hosted_button_id=AB><img src="https://www.paypalobjects.com/b.gif"></a><a href="https://maps.app.goo.gl/Ab">`)
	f.Add("<a href=\"https://x.exa\nmple/%2e%2E/a\">a</a><img src=\"https://www.paypal.com/en_DE/i/scr/pixel.gif\"><object data=\"https://qr.example/c.png\"></object>")
	f.Add(`<a href="tel:+18005550199">x</a><img src="//cdn.org3.example/l.png"><img src="cid:qr"><div style="background:url('data:x')">`)
	f.Add(`<a href="https:\\p%61ypal.me\X">a</a><a href="HTTPS:/paypal%2Eme/x?\y"><a href="\\wa.me/message/AB"><a href="https://pay%2fpal.me">` +
		"https://youtube.com/@h/v https://1drv.ms/b/c/1/2 Wij vragen nooit om je wachtwoord. No responda a este correo con su senha.")
	f.Add("www.xerox.com http://www.xerox.com@evil.example/ https://www.adobe.com/ <a href=\"http://www.xerox.com/\">www.xerox.com</a>")
	f.Fuzz(func(t *testing.T, text string) {
		var got []string
		add := func(id string) {
			switch {
			case id == anyTarget, id == askTarget, strings.HasPrefix(id, "url:") && len(id) > 4, strings.HasPrefix(id, "mail:") && len(id) > 5:
			case strings.HasPrefix(id, "tel:") && len(id) == 13 && strings.Trim(id[4:], "0123456789") == "":
			default:
				t.Fatalf("target %q", id)
			}
			got = append(got, id)
		}
		textTargets(text, func(string) {}, add)
		if (linkOrNumber(withoutToolLinks(text), func(string) {}) || asksSecret(text)) && len(got) == 0 {
			t.Fatal("a payload without a target")
		}
		n := len(got)
		htmlTargets(text, add)
		// An image of the message's own parts ("cid:", named by
		// the part), a platform's asset (assetHosts) or a tool's own
		// link (toolLinks) is no target here: a message with a payload
		// and no target is "any" (Collector.payloadTargets).
		low := strings.ToLower(text)
		own := strings.Contains(low, "cid:") || slices.ContainsFunc(assetHosts, func(h string) bool { return strings.Contains(low, h) }) ||
			slices.ContainsFunc(toolLinks, func(l string) bool { return strings.Contains(text, l) })
		for d := range assetPages { // a site's own image (its pixel)
			own = own || strings.Contains(low, d)
		}
		if htmlPayload(text) && len(got) == n && !own {
			t.Fatal("an HTML payload without a target")
		}
		again := got
		got = nil
		textTargets(text, func(string) {}, add)
		htmlTargets(text, add)
		if !slices.Equal(got, again) {
			t.Fatal("not deterministic")
		}
	})
}
