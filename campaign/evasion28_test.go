package campaign

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Issue 28's evasions an independent reviewer reproduced: each a
// campaign of the same phishing text (hamgen.Phish: the recipient's
// greeting, name and tracking token) sent by distinct accounts, each copy
// varied the evader's way, that must be found by the 5th account (the
// example config's campaign.accounts).

// junkWord is a random word of an evader's dictionary: mostly made-up
// words (no two copies share many), now and then an ordinary one.
func junkWord(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		return wiki[rng.IntN(len(wiki))]
	}
	const cons, vow = "bcdfghklmnprstvwz", "aeiou"
	var b strings.Builder
	for range 2 + rng.IntN(3) {
		b.WriteByte(cons[rng.IntN(len(cons))])
		b.WriteByte(vow[rng.IntN(len(vow))])
	}
	return b.String()
}

func junk(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = junkWord(rng)
	}
	return strings.Join(w, " ")
}

// TestEvasion28Added: n random words appended (or prepended, or both)
// to each copy: the shared text is found however much is added, up to
// the text's own length and more. Before: found at the 30th account with
// 40 words, never with 80 (MinHash measured the whole text).
func TestEvasion28Added(t *testing.T) {
	for _, c := range []struct {
		name      string
		pre, post int
	}{{"append40", 0, 40}, {"append80", 0, 80}, {"append200", 0, 200}, {"prepend60", 60, 0}, {"both60", 60, 60}} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(28, uint64(c.pre*1000+c.post)))
			at := foundAt(t, 40, func(i int) (string, []byte) {
				rcpt, h, b := phishBody(i)
				if c.pre > 0 {
					// After the greeting, as a greeting is cut.
					g, rest, _ := strings.Cut(b, "\n\n")
					b = g + "\n\n" + junk(rng, c.pre) + "\n\n" + rest
				}
				if c.post > 0 {
					b += "\n\n" + junk(rng, c.post) + "\n"
				}
				return rcpt, []byte(h + "\n\n" + b)
			})
			if at != 5 {
				t.Fatalf("found at account %d, want 5", at)
			}
		})
	}
}

// TestEvasion28Inserted: one random word inserted in every 6 words of
// each copy (at a random place among them), ten campaigns of other
// random words. Before: found at the 32nd account, or never.
func TestEvasion28Inserted(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(28, 6+seed))
		at := foundAt(t, 40, func(i int) (string, []byte) {
			rcpt, h, b := phishBody(i)
			return rcpt, []byte(h + "\n\n" + insertJunk(rng, b))
		})
		if at != 5 {
			t.Errorf("seed %d: found at account %d, want 5", seed, at)
		}
	}
}

// insertJunk inserts a random word in every 6 words of b, at a random
// place among them.
func insertJunk(rng *rand.Rand, b string) string {
	words := strings.Split(b, " ")
	var out []string
	for j := 0; j < len(words); j += 6 {
		g := words[j:min(j+6, len(words))]
		k := rng.IntN(len(g) + 1)
		out = append(append(append(out, g[:k]...), junkWord(rng)), g[k:]...)
	}
	return strings.Join(out, " ")
}

// TestEvasion28Quoted: the phishing text put where a reply's quote or a
// signature goes: "> " lines, an HTML blockquote, after "-- " or "Sent
// from my iPhone", alone or under 30 random words of each copy's own.
// Before: never found (the normalizer cut it as someone else's text).
func TestEvasion28Quoted(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 8))
	for name, wrap := range map[string]func(b string) (ct, body string){
		"gt": func(b string) (string, string) {
			return "text/plain", "Hi,\n\n" + "> " + strings.ReplaceAll(b, "\n", "\n> ") + "\n"
		},
		"blockquote": func(b string) (string, string) {
			return "text/html", "<html><body><p>Hi,</p><blockquote>" + strings.ReplaceAll(b, "\n", "<br>") + "</blockquote></body></html>\n"
		},
		"signature": func(b string) (string, string) { return "text/plain", "Hi,\n\n-- \n" + b + "\n" },
		// Own text of its own, different in every copy, above them.
		"gt+own": func(b string) (string, string) {
			return "text/plain", junk(rng, 30) + "\n\n" + "> " + strings.ReplaceAll(b, "\n", "\n> ") + "\n"
		},
		"signature+own": func(b string) (string, string) { return "text/plain", junk(rng, 30) + "\n\n-- \n" + b + "\n" },
		"iphone": func(b string) (string, string) {
			return "text/plain", "See below.\n\nSent from my iPhone\n\n" + b + "\n"
		},
	} {
		t.Run(name, func(t *testing.T) {
			at := foundAt(t, 20, func(i int) (string, []byte) {
				rcpt, h, b := phishBody(i)
				ct, body := wrap(b)
				h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: "+ct, 1)
				return rcpt, []byte(h + "\n\n" + body)
			})
			if at != 5 {
				t.Fatalf("found at account %d, want 5", at)
			}
		})
	}
}

// phishZip is the phishing page in a zip whose bytes differ in every
// copy: member order, timestamps, a comment, the compression method and
// a junk member name.
func phishZip(t *testing.T, rng *rand.Rand) []byte {
	page := []byte(strings.Repeat("<html><body><form action=\"https://secure-login.phish.example/\">Password: <input type=password></form></body></html>\n", 20))
	doc := []byte(strings.Repeat("Your mailbox will be closed unless you sign in with the attached form.\n", 20))
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	files := []struct {
		name string
		data []byte
	}{{"login.html", page}, {"readme.txt", doc}}
	if rng.IntN(2) == 0 {
		files[0], files[1] = files[1], files[0]
	}
	for _, f := range files {
		m := zip.Deflate
		if rng.IntN(2) == 0 {
			m = zip.Store
		}
		w, err := z.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%x/%s", rng.Uint32(), f.name), Method: m,
			Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(1e6)) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	z.SetComment(fmt.Sprint(rng.Int64()))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEvasion28Archive: the same files in a zip re-randomized per copy
// (different bytes each time, under a text of its own in each copy) are
// one campaign by the archive's decoded members. Before: the container's
// hash was the key: never found.
func TestEvasion28Archive(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 7))
	seen := map[string]bool{}
	at := foundAt(t, 20, func(i int) (string, []byte) {
		rcpt, _, _ := phishBody(i)
		z := phishZip(t, rng)
		if seen[string(z)] {
			t.Fatal("two copies of one zip")
		}
		seen[string(z)] = true
		raw := "From: <x@isp.example>\nTo: <" + rcpt + ">\nSubject: documents\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\n" +
			junk(rng, 8) + "\n--q\nContent-Type: application/zip\nContent-Disposition: attachment; filename=doc.zip\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString(z) + "\n--q--\n"
		return rcpt, []byte(raw)
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}

// TestInnocent28Quotes: what the quote and signature rule must leave
// alone: six customers each answering one common message (a club's
// announcement) with a word of their own above the attributed quote, in
// text (English, German and French attributions; iOS Mail's and Gmail's
// wrapped attribution too) and in Gmail's, Thunderbird's
// and Apple Mail's HTML, and six staff of one
// company each writing a short line above the company's long signature.
func TestInnocent28Quotes(t *testing.T) {
	announce := strings.Fields(chain)
	quoted := "> " + strings.Join(announce[:30], " ") + "\n> " + strings.Join(announce[30:], " ") + "\n"
	var msgs []string
	for _, attribution := range []string{"On Mon, 3 Nov 2026 at 10:00, Shelter <club@shelter.example> wrote:", "Am 03.11.26 um 10:00 schrieb Shelter Volunteers:",
		"Shelter <club@shelter.example> schrieb am Mo., 3. Nov. 2026, 10:00:", "Le 03/11/2026 à 10:00, Shelter a écrit :", "Shelter <club@shelter.example> wrote:",
		"Am 03.11.2026 um 10:00 schrieb Shelter <club@shelter.example>:"} {
		msgs = nil
		for i := range 6 {
			msgs = append(msgs, plain(fmt.Sprintf("p%d@isp.example", i), "club@shelter.example", "Re: Help", []string{"Count me in!", "Thanks!", "I will sign."}[i%3]+
				"\n\n"+attribution+"\n"+quoted))
		}
		if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
			t.Fatalf("text replies under %q: %d campaigns, %d suspended", attribution, c, s)
		}
	}
	// iOS Mail: the attribution inside the quote, under its signature.
	msgs = nil
	for i := range 6 {
		msgs = append(msgs, plain(fmt.Sprintf("p%d@isp.example", i), "club@shelter.example", "Re: Help", "Thanks!\n\nSent from my iPhone\n\n> On 3 Nov 2026, at 10:00, Shelter <club@shelter.example> wrote:\n> \n"+quoted))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("iOS Mail's attribution: %d campaigns, %d suspended", c, s)
	}
	// Gmail's text alternative wraps a long attribution line.
	msgs = nil
	for i := range 6 {
		msgs = append(msgs, plain(fmt.Sprintf("p%d@isp.example", i), "club@shelter.example", "Re: Help", "Thanks!\n\nOn Mon, Nov 3, 2026 at 10:00 AM Shelter Volunteers Association <\nclub@shelter.example> wrote:\n\n"+quoted))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("Gmail's wrapped attribution: %d campaigns, %d suspended", c, s)
	}
	msgs = nil
	for i := range 6 {
		h := `<div>Thanks!</div><div class="gmail_quote"><div class="gmail_attr">On Mon, Shelter wrote:</div><blockquote class="gmail_quote">` + chain + `</blockquote></div>`
		switch i % 3 {
		case 1:
			h = `<p>Thanks!</p><div class="moz-cite-prefix">On 03.11.26 10:00, Shelter wrote:<br></div><blockquote type="cite">` + chain + `</blockquote>`
		case 2: // Apple Mail: the attribution inside the quote
			h = `<div>Thanks!<div><br><blockquote type="cite"><div>On 3 Nov 2026, at 10:00, Shelter &lt;club@shelter.example&gt; wrote:</div><br class="Apple-interchange-newline"><div>` + chain + `</div></blockquote></div></div>`
		}
		msgs = append(msgs, strings.Replace(plain(fmt.Sprintf("p%d@isp.example", i), "club@shelter.example", "Re: Help", "<html><body>"+h+"</body></html>"), "text/plain", "text/html", 1))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("HTML replies: %d campaigns, %d suspended", c, s)
	}
	sig := "-- \nMaria Koch\nSales Manager\nAcme Consulting GmbH | Hauptstrasse 1 | 10115 Berlin\nTel +49 30 1234567 | Fax +49 30 1234568\nwww.acme-consulting.example\nGeschaeftsfuehrer: Max Mustermann, Erika Musterfrau\nAmtsgericht Charlottenburg HRB 12345 B | USt-IdNr. DE123456789\nVisit us at the trade fair in Hannover, hall 4, booth 12!\n"
	msgs = nil
	for i := range 6 {
		msgs = append(msgs, plain(fmt.Sprintf("staff%d@acme.example", i), fmt.Sprintf("client%d@remote.example", i), "Re: offer", []string{"Thanks, will do.", "See attached.", "Agreed, let's talk on Monday."}[i%3]+"\n\n"+sig))
	}
	if c, s := reviewSend(t, msgs); c != 0 || s != 0 {
		t.Fatalf("signatures: %d campaigns, %d suspended", c, s)
	}
}
