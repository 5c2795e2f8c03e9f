package campaign

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// newsletterMessage is a typical newsletter: 150 words of an
// organisation's own news with a newsletter provider's tracked links,
// its logo and its phone number, over the shared notice, in text and
// its HTML alternative.
func newsletterMessage() []byte {
	own := ownText(rand.New(rand.NewPCG(28, 150)), 150)
	text := own + "\n\nRead more: " + mailchimp(3, 1) + "\nEvents: " + mailchimp(3, 2) + "\n\nKind regards,\nThe board\n" + phone(3) + "\n\n" + optInNotice
	html := `<html><body><img src="https://mcusercontent.com/1a2b/images/logo.png" alt="Logo"><p>` + own + `</p><p><a href="` + mailchimp(3, 1) + `">Read more</a> | <a href="` +
		mailchimp(3, 2) + `">Events</a></p><p>Kind regards,<br>The board<br>` + phone(3) + `</p><p>` + optInNotice + `</p></body></html>`
	return []byte("From: <news@org3.example>\r\nTo: <member@remote.example>\r\nSubject: News\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		text + "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b--\r\n")
}

// BenchmarkFingerprintNewsletter: the walk with the fingerprint on it of
// a typical newsletter (newsletterMessage), whose notice is cut and
// salted with its five targets: the cost of naming them (main's code,
// the notice plain text: 0.53 times this). It reports the message's
// text keys (main's: 163).
func BenchmarkFingerprintNewsletter(b *testing.B) {
	raw := newsletterMessage()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	keys := 0
	for b.Loop() {
		keys = len(collectorOf(b, Names("member"), raw).Fingerprint().Text)
	}
	b.ReportMetric(float64(keys), "keys/msg")
}

// BenchmarkFingerprintLinks10K: the walk with the fingerprint of
// message10K with a link in every paragraph and no notice: what naming
// targets costs a message that has none to salt (nothing: main's code
// 0.99 times this).
func BenchmarkFingerprintLinks10K(b *testing.B) {
	raw := bytes.ReplaceAll(message10K(), []byte("the rest."), []byte("the rest at https://plans.example/school?id=4 today."))
	if !bytes.Contains(raw, []byte("https://plans")) {
		b.Fatal("no links")
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		collectorOf(b, Names("ben"), raw).Fingerprint()
	}
}

// BenchmarkFingerprintTargets14: the fingerprint of a newsletter of 150
// words with 14 links to sites of its own over the notice: salted with
// 14 targets since maxTargets is 15 (before, with 8, its notice was
// plain text). Its cost against main's is the cost of the bound
// (docs/suspension.md).
func BenchmarkFingerprintTargets14(b *testing.B) {
	own := ownText(rand.New(rand.NewPCG(28, 150)), 150)
	var links bytes.Buffer
	for k := range 14 {
		links.WriteString(" https://shop.org3-" + string(rune('a'+k)) + ".example/")
	}
	raw := []byte("From: <news@org3.example>\r\nTo: <member@remote.example>\r\nSubject: News\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		own + links.String() + "\r\n\r\n" + optInNotice + "\r\n")
	b.SetBytes(int64(len(raw)))
	keys := 0
	for b.Loop() {
		keys = len(collectorOf(b, Names("member"), raw).Fingerprint().Text)
	}
	b.ReportMetric(float64(keys), "keys/msg")
}
