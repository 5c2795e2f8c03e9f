package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/policy"
)

// foundAt sends copies from distinct accounts until the campaign is
// established (a stamp) or held; 0: never within n.
func foundAt(t *testing.T, n int, copy func(i int) (string, []byte)) int {
	return foundAtSeed(t, FixedSeed(Seed{}), n, copy)
}

// foundAtSeed is foundAt with an engine sampling with seed (nil: the
// rig store's own, StoreSeed).
func foundAtSeed(t *testing.T, seed *SeedSource, n int, copy func(i int) (string, []byte)) int {
	r := newSeededRig(t, seed)
	for i := range n {
		rcpt, raw := copy(i)
		r.now = r.now.Add(20 * time.Second)
		tx := transaction(t, fmt.Sprintf("bot%d@isp.example", i), []string{rcpt}, raw)
		v, err := r.commit(context.Background(), tx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != policy.Accept || len(tx.Stamps()) > 0 {
			return i + 1
		}
	}
	return 0
}

var wiki = strings.Fields(`The river rises in the northern hills and flows south through a broad valley where farming has been practiced since antiquity. The town grew around a medieval bridge and a market square, and in the nineteenth century a railway brought textile mills and new housing. Today the economy relies on services, tourism and a small university known for its research in agriculture and hydrology. The climate is temperate with mild summers and cool wet winters, and the surrounding forests are home to deer, foxes and many species of birds. Local festivals celebrate the harvest and the founding of the town, drawing visitors from across the region.`)

func phishBody(i int) (rcpt, hdr, body string) {
	rcpt, raw := hamgen.Phish(i, false)
	hdr, body, _ = strings.Cut(string(raw), "\n\n")
	return rcpt, hdr, body
}

// TestReviewHiddenText: copies of one HTML text, each with a random word
// in a hidden span after every word, are one campaign: found at the 5th
// account as the plain copies are. Before, the hidden words were text:
// no two copies shared a shingle, and 40 accounts sent it unnoticed.
func TestReviewHiddenText(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hide := []string{`<span style="display:none">%s</span>`, `<span style="DISPLAY: none !important">%s</span>`, `<font style="font-size:0px">%s</font>`,
		`<span hidden>%s</span>`, `<span style="opacity:0">%s</span>`, `<span style="visibility:hidden">%s</span>`}
	at := foundAt(t, 40, func(i int) (string, []byte) {
		rcpt, h, b := phishBody(i)
		var out []string
		for _, w := range strings.Fields(b) {
			out = append(out, w+" "+fmt.Sprintf(hide[rng.IntN(len(hide))], wiki[rng.IntN(len(wiki))]+" "+wiki[rng.IntN(len(wiki))]))
		}
		h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: text/html", 1)
		return rcpt, []byte(h + "\n\n<html><body><p>" + strings.Join(out, " ") + "</p></body></html>\n")
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}

// TestReviewHiddenHTMLShown: what a browser shows stays text: a hidden
// span left unclosed ends with its paragraph (as a browser builds the
// document), a font-size:0 container around text sized again (an e-mail
// template's layout) and opacity:0.5 are shown.
func TestReviewHiddenHTMLShown(t *testing.T) {
	for _, c := range []struct{ html, want string }{
		{`<p><span style="display:none">junk</p><p>shown words</p>`, "shown words"},
		{`<div style="font-size:0"><div style="font-size:16px">shown words</div></div>`, "shown words"},
		{`<p style="opacity:0.5">shown words</p><p style="font-size:0.9em">too</p>`, "shown words too"},
		{`<div style="visibility:hidden"><span style="visibility:visible">shown words</span> junk</div>`, "shown words junk"},
		{`<table><tr><td>shown</td><td style="display:none">junk</td><td>words</td></tr></table>`, "shown words"},
	} {
		if got := strings.Join(Normalize(c.html, true, nil), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.html, got, c.want)
		}
	}
}

// TestReviewConfusables: copies with Latin small capitals, IPA letters
// and Cyrillic, Greek and Armenian look-alikes beyond the first table in
// half their words are one campaign, found at the 5th account. Before:
// not within 40.
func TestReviewConfusables(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	swap := strings.NewReplacer("o", "ᴏ", "e", "ҽ", "a", "ɑ", "i", "ꙇ", "c", "ϲ", "u", "ս", "n", "ո", "y", "ʏ", "s", "ꜱ", "t", "ᴛ")
	at := foundAt(t, 40, func(i int) (string, []byte) {
		rcpt, h, b := phishBody(i)
		var out []string
		for _, w := range strings.Fields(b) {
			if rng.IntN(2) == 0 {
				w = swap.Replace(w)
			}
			out = append(out, w)
		}
		return rcpt, []byte(h + "\n\n" + strings.Join(out, " "))
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}

// TestReviewDeepHTML: a text nested deeper than the HTML parser's limit
// (512 open elements) is still read. Before the fallback: no text, no
// fingerprint, whatever the copies said.
func TestReviewDeepHTML(t *testing.T) {
	deep := strings.Repeat("<div>", 600) + "shown words here" + strings.Repeat("</div>", 600)
	if got := strings.Join(Normalize(deep, true, nil), " "); got != "shown words here" {
		t.Fatalf("%q", got)
	}
	at := foundAt(t, 20, func(i int) (string, []byte) {
		rcpt, h, b := phishBody(i)
		h = strings.Replace(h, "Content-Type: text/plain", "Content-Type: text/html", 1)
		return rcpt, []byte(h + "\n\n" + strings.Repeat("<b>", 520+i) + strings.ReplaceAll(b, "\n", "<br>") + "\n")
	})
	if at != 5 {
		t.Fatalf("found at account %d, want 5", at)
	}
}
