package campaign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/mimewalk"
	"outguard/policy"
)

// rig is the engine as setup builds it with the example config's
// defaults (5 accounts, 15 minutes, quarantine, suspend) and the ISP's
// consumer domain isp.example (campaign.shared_domains), on a real
// SQLite store, with a clock the test moves.
type rig struct {
	eng   *Engine
	lim   *limits.Engine
	store *limits.SQLStore
	now   time.Time
}

func newRig(t *testing.T) *rig { return newSeededRig(t, FixedSeed(Seed{})) }

// newSeededRig is a rig whose engine samples with seed; nil: with the
// seed its store creates, as setup wires it (StoreSeed).
func newSeededRig(t *testing.T, seed *SeedSource) *rig {
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{store: st, now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	if seed == nil {
		seed = StoreSeed(st)
	}
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	r.lim = &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
		Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day}
	r.eng = New(Options{Store: st, Limits: r.lim, Accounts: 5, Window: 15 * time.Minute, Action: policy.Quarantine, Suspend: true,
		SharedDomains: []string{"isp.example"}, Seed: seed, Log: r.lim.Log, Now: func() time.Time { return r.now }})
	r.lim.Campaigns = r.eng // as setup wires them: the copy counted in the limits commit
	return r
}

// commit runs the commits of tx as the pipeline does after its checks:
// the limits engine's (which counts the copy with the message, in one
// round trip), then the campaign engine's, whose verdict it returns; a
// message the limits refuse gets the limits' verdict.
func (r *rig) commit(ctx context.Context, tx *policy.Transaction) (policy.Verdict, error) {
	if v, err := r.lim.CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
		return v, err
	}
	if v, err := r.lim.Commit(ctx, tx); err != nil || v.Action != policy.Accept {
		return v, err
	}
	if _, err, ok := limits.CampaignOutcome(tx); !ok || err != nil {
		return policy.Verdict{}, fmt.Errorf("the limits commit did not count the copy (%v)", err)
	}
	return r.eng.Commit(ctx, tx)
}

func transaction(t testing.TB, account string, rcpts []string, raw []byte) *policy.Transaction {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tx := &policy.Transaction{User: account, Rcpts: rcpts, Message: bytes.NewReader(raw), QueueID: fmt.Sprintf("Q%d", rand.Int())}
	for k, vs := range msg.Header {
		for _, v := range vs {
			tx.Headers = append(tx.Headers, policy.Header{Name: k, Value: v})
		}
	}
	return tx
}

// send commits one message as the pipeline does after its checks.
func (r *rig) send(t testing.TB, account string, rcpts []string, raw []byte) policy.Verdict {
	t.Helper()
	v, err := r.commit(context.Background(), transaction(t, account, rcpts, raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHamCorpus: thousands of ordinary messages from many accounts within
// an hour (every 15-minute window holds over a thousand), the example
// config's defaults: no campaign, nobody suspended. Before the quorum of
// bands, one band resting on a common sentence ("Please let me know if
// you have any questions.") made campaigns of business replies. The
// corpus is seed 28's; OUTGUARD_HAM_SEEDS="1 2 3" measures others.
func TestHamCorpus(t *testing.T) {
	for _, seed := range hamSeeds(t) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { hamCorpus(t, seed, FixedSeed(Seed{})) })
	}
	// A secret seed (the fleet's, kept in the store) samples other runs
	// of every text: the ham corpus is no campaign under it either.
	secret, err := NewSeed([]byte("a fixed test seed of 32 bytes!!!"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("seed28secret", func(t *testing.T) { hamCorpus(t, 28, FixedSeed(secret)) })
}

// hamSeeds are the ham corpus's seeds: 28, or OUTGUARD_HAM_SEEDS's.
func hamSeeds(t *testing.T) []uint64 {
	seeds := []uint64{28}
	if env := os.Getenv("OUTGUARD_HAM_SEEDS"); env != "" {
		seeds = nil
		for _, f := range strings.Fields(env) {
			s, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				t.Fatalf("OUTGUARD_HAM_SEEDS: %v", err)
			}
			seeds = append(seeds, s)
		}
	}
	return seeds
}

func hamCorpus(t *testing.T, seed uint64, sampling *SeedSource) {
	r := newSeededRig(t, sampling)
	start := r.now
	n := 6000
	if raceBuild {
		n = 2000
	}
	corpus := hamgen.Corpus(seed, n, time.Hour)
	// In time order, as they would arrive.
	slicesSortByAt(corpus)
	fingerprinted := 0
	for _, m := range corpus {
		r.now = start.Add(m.At)
		if v := r.send(t, m.Account, m.Rcpts, m.Raw); v.Action != policy.Accept {
			t.Fatalf("%s message of %s: %s %s\n%s", m.Kind, m.Account, v.Action, v.Reason, m.Raw)
		}
		if fp := fingerprintOf(t, m.Rcpts, m.Raw); len(fp.Text) > 0 {
			fingerprinted++
		}
	}
	cs, err := r.store.Campaigns(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		c, _ := r.store.CampaignByID(context.Background(), cs[0].ID)
		t.Fatalf("%d campaigns in ham, the first %+v", len(cs), c)
	}
	sus, _ := r.store.Suspensions(context.Background())
	if len(sus) != 0 {
		t.Fatalf("suspended in ham: %+v", sus[0])
	}
	// The corpus is not trivially passed: most messages have a text
	// fingerprint (the short ones and the invitations have none).
	if fingerprinted < len(corpus)/3 {
		t.Fatalf("only %d of %d messages fingerprinted", fingerprinted, len(corpus))
	}
	t.Logf("%d messages, %d with a text fingerprint, 0 campaigns", len(corpus), fingerprinted)
}

func slicesSortByAt(ms []hamgen.Message) {
	for i := 1; i < len(ms); i++ { // insertion sort keeps equal times in order
		for j := i; j > 0 && ms[j].At < ms[j-1].At; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

func fingerprintOf(t testing.TB, rcpts []string, raw []byte) Fingerprint {
	return collectorOf(t, recipientNames(transaction(t, "x", rcpts, raw)), raw).Fingerprint()
}

// TestPhishingAcrossAccounts: the same phishing text, every copy with its
// recipient's greeting, name and tracking token, half of them with an
// HTML alternative, from 5 accounts: the fifth establishes the campaign
// and suspends all five; every later copy, from a new account or an old
// one, is quarantined and its sender suspended. Before this package: all
// passed.
func TestPhishingAcrossAccounts(t *testing.T) {
	r := newRig(t)
	for i := range 5 {
		rcpt, raw := hamgen.Phish(i, i%2 == 1)
		r.now = r.now.Add(time.Minute)
		if v := r.send(t, fmt.Sprintf("victim%d@isp.example", i), []string{rcpt}, raw); v.Action != policy.Accept {
			t.Fatalf("copy %d: %s %s", i, v.Action, v.Reason)
		}
	}
	sus, _ := r.store.Suspensions(context.Background())
	if len(sus) != 5 {
		t.Fatalf("%d suspended, want the 5 senders", len(sus))
	}
	for _, s := range sus {
		if s.Signal != limits.SignalCampaign || len(s.Sightings) != 1 || !strings.Contains(s.Sightings[0].Detail, "verify your mailbox") {
			t.Errorf("suspension %+v", s)
		}
	}
	for i := 5; i < 8; i++ {
		rcpt, raw := hamgen.Phish(i, i%2 == 0)
		r.now = r.now.Add(time.Minute)
		v := r.send(t, fmt.Sprintf("victim%d@isp.example", i), []string{rcpt}, raw)
		if v.Action != policy.Quarantine || len(v.Findings) != 1 || v.Findings[0].Engine != "campaign" {
			t.Fatalf("copy %d after the campaign: %+v", i, v)
		}
	}
	cs, _ := r.store.Campaigns(context.Background(), time.Time{}, 100)
	if len(cs) != 1 {
		t.Fatalf("campaigns %+v", cs)
	}
	c, _ := r.store.CampaignByID(context.Background(), cs[0].ID)
	if len(c.Accounts) != 8 || c.Copies != 8 || c.Held != 3 || !strings.HasPrefix(c.Subject, "Action required") {
		t.Fatalf("campaign %+v", c)
	}
	sus, _ = r.store.Suspensions(context.Background())
	if len(sus) != 8 {
		t.Fatalf("%d suspended, want 8", len(sus))
	}
	// After the window without copies, the campaign is over: the next
	// copy starts counting again.
	r.now = r.now.Add(16 * time.Minute)
	rcpt, raw := hamgen.Phish(20, false)
	if v := r.send(t, "late@isp.example", []string{rcpt}, raw); v.Action != policy.Accept {
		t.Fatalf("copy after the window: %+v", v)
	}
}

// TestOneAccountNewsletter: one account's newsletter to 500 recipients
// (names, tracking tokens) is one account: nothing.
func TestOneAccountNewsletter(t *testing.T) {
	r := newRig(t)
	for _, m := range hamgen.Newsletter(1, 500) {
		if v := r.send(t, m.Account, m.Rcpts, m.Raw); v.Action != policy.Accept {
			t.Fatalf("%+v", v)
		}
	}
	if cs, _ := r.store.Campaigns(context.Background(), time.Time{}, 100); len(cs) != 0 {
		t.Fatalf("campaigns %+v", cs)
	}
}

// evasive is a copy an attacker varied: random words inserted, zero-width
// characters inside words, Cyrillic look-alikes for Latin letters.
func evasive(rng *rand.Rand, i int) (string, []byte) {
	rcpt, raw := hamgen.Phish(i, false)
	hdr, body, _ := strings.Cut(string(raw), "\n\n")
	words := strings.Split(body, " ")
	junk := []string{"apple", "river", "quantum", "velvet", "marble", "sunset", "orbit", "lantern", "meadow", "cobalt", "harbor", "pepper"}
	var out []string
	for _, w := range words {
		if rng.IntN(12) == 0 {
			out = append(out, junk[rng.IntN(len(junk))]+fmt.Sprint(""))
		}
		switch rng.IntN(6) {
		case 0:
			if len(w) > 3 {
				w = w[:2] + "\u200b" + w[2:]
			}
		case 1:
			w = strings.NewReplacer("a", "а", "o", "о", "e", "е").Replace(w)
		}
		out = append(out, w)
	}
	return rcpt, []byte(hdr + "\n\n" + strings.Join(out, " "))
}

// TestEvasion: copies an attacker varies each (a random word in every
// dozen, zero-width characters, homoglyphs) are still one campaign: found
// by the time 10 accounts sent it (5 is the threshold; each copy's
// variation costs some bands).
func TestEvasion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRig(t)
	found := 0
	for i := range 30 {
		rcpt, raw := evasive(rng, i)
		r.now = r.now.Add(20 * time.Second)
		tx := transaction(t, fmt.Sprintf("bot%d@isp.example", i), []string{rcpt}, raw)
		v, err := r.commit(context.Background(), tx)
		if err != nil {
			t.Fatal(err)
		}
		if found == 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
			found = i + 1
		}
	}
	if found == 0 || found > 10 {
		t.Fatalf("campaign found at account %d, want by the 10th", found)
	}
	t.Logf("found at account %d", found)
}

// TestBounds: the text read is MaxText, the tokens MaxTokens, the
// attachments hashed MaxFiles and none under MinFile.
func TestBounds(t *testing.T) {
	long := strings.Repeat("lorem ipsum dolor sit amet ", MaxText/4)
	toks := Normalize(long, false, nil)
	if len(toks) != MaxTokens {
		t.Errorf("%d tokens, want MaxTokens", len(toks))
	}
	// MaxText: words past it are never read.
	past := strings.Repeat("x", MaxText) + " tail"
	if toks := Normalize(past, false, nil); len(toks) != 0 {
		t.Errorf("read past MaxText: %v", toks)
	}
	var b strings.Builder
	b.WriteString("From: a@b\nTo: c@d\nSubject: s\nContent-Type: multipart/mixed; boundary=q\n\n")
	for i := range MaxFiles + 5 {
		fmt.Fprintf(&b, "--q\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=f%d.pdf\n\n%s\n", i, strings.Repeat(fmt.Sprint(i, " "), MinFile))
	}
	b.WriteString("--q\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=small.pdf\n\nsmall\n--q--\n")
	fp := fingerprintOf(t, []string{"c@d"}, []byte(b.String()))
	if len(fp.Files) != MaxFiles {
		t.Errorf("%d file keys, want MaxFiles", len(fp.Files))
	}
}

// TestNormalize: what per-recipient variation and evasion change leaves
// the words alone.
func TestNormalize(t *testing.T) {
	names := Names("john.smith", "John Smith")
	a := Normalize("Hi John,\n\nYour invoice 4711 of 12.50 EUR is at https://pay.example.com/i/abc?t=1 now.\n\n-- \nSig", false, names)
	b := Normalize("Dear Mary,\n\nYour іnvoice 4712 of 99.00 EUR is at https://x.pay.example.com/i/zzz now, John.\n\n-- \nOther", false, names)
	c := Normalize("<p>Your in\u200bvoice <b>4713</b> of 1 EUR is at <a href=\"https://pay.example.com/q\">here</a> now.</p><div class=\"gmail_quote\"><blockquote>old text</blockquote></div>", true, names)
	want := "your invoice of eur is at url:example.com now"
	for i, got := range [][]string{a, b, c} {
		g := strings.Join(got, " ")
		if i == 2 {
			g = strings.Replace(g, "url:example.com here", "url:example.com", 1)
		}
		if g != want {
			t.Errorf("%d: %q, want %q", i, g, want)
		}
	}
	q := Normalize("Fine.\n\nOn Mon, 1 Jan 2026, Ann <a@x> wrote:\n> quoted words here\n", false, nil)
	if strings.Join(q, " ") != "fine" {
		t.Errorf("quoted: %q", q)
	}
	d := Normalize("Please see below.\n\nThis e-mail is confidential and may be privileged. If you are not the intended recipient, delete it.", false, nil)
	if strings.Join(d, " ") != "please see below" {
		t.Errorf("disclaimer: %q", d)
	}
}

// noReads is a message that can no longer be read: a second walk of it
// fails.
type noReads struct{ size int64 }

func (n noReads) ReadAt([]byte, int64) (int, error) { return 0, fmt.Errorf("read again") }
func (n noReads) Size() int64                       { return n.size }

// TestTapOneParse: with a rules engine walking the message (Tap), the
// fingerprint is the one its walk built: the message is not read again
// (reading it fails here). A tap whose walk did not finish is not
// trusted: the engine walks the message itself.
func TestTapOneParse(t *testing.T) {
	r := newRig(t)
	for i := range 5 {
		rcpt, raw := hamgen.Phish(i, false)
		tx := transaction(t, fmt.Sprint("a", i), []string{rcpt}, raw)
		c := r.eng.Tap(tx)
		if _, err := mimewalk.Walk(context.Background(), bytes.NewReader(raw), int64(len(raw)), mimewalk.Limits{}, func(it *mimewalk.Item) error {
			c.Item(it)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		c.Done()
		tx.Message = noReads{int64(len(raw))}
		if _, err := r.commit(context.Background(), tx); err != nil {
			t.Fatalf("copy %d read the message again: %v", i, err)
		}
	}
	if cs, _ := r.store.Campaigns(context.Background(), time.Time{}, 100); len(cs) != 1 {
		t.Fatalf("the tapped fingerprints made %d campaigns, want 1", len(cs))
	}
	rcpt, raw := hamgen.Phish(9, false)
	tx := transaction(t, "b", []string{rcpt}, raw)
	r.eng.Tap(tx) // a walk that never finished: the engine walks itself
	if v, err := r.commit(context.Background(), tx); err != nil || v.Action != policy.Quarantine {
		t.Fatalf("a copy after an unfinished tap: %+v %v", v, err)
	}
}

// TestMinimums: MinWords words of own text are fingerprinted, one fewer
// are not; an attachment of MinFile bytes is a key, one byte less is not;
// an image is never one.
func TestMinimums(t *testing.T) {
	words := func(n int) string {
		var w []string
		for i := range n {
			w = append(w, "word"+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
		}
		return strings.Join(w, " ")
	}
	for n, want := range map[int]bool{MinWords - 1: false, MinWords: true} {
		fp := fingerprintOf(t, []string{"c@d"}, []byte("From: a@b\nTo: c@d\nSubject: s\n\n"+words(n)+"\n"))
		if (len(fp.Text) > 0) != want || fp.Words != n {
			t.Errorf("%d words: %d keys", n, len(fp.Text))
		}
	}
	att := func(ct string, n int) []byte {
		return []byte("From: a@b\nTo: c@d\nSubject: s\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: " + ct + "\nContent-Disposition: attachment; filename=f\n\n" + strings.Repeat("z", n) + "\n--q--\n")
	}
	for _, c := range []struct {
		ct   string
		n    int
		want int
	}{{"application/pdf", MinFile, 1}, {"application/pdf", MinFile - 1, 0}, {"image/png", 4 * MinFile, 0}} {
		// The part's last line break belongs to the boundary (RFC 2046 5.1.1).
		if fp := fingerprintOf(t, []string{"c@d"}, att(c.ct, c.n)); len(fp.Files) != c.want {
			t.Errorf("%s of %d bytes: %d file keys, want %d", c.ct, c.n, len(fp.Files), c.want)
		}
	}
}

// TestForwardedOriginal: a customer forwarding the campaign's phishing
// mail as an attached message (to the abuse desk, to a friend: "is this
// real?") does not send it: after the campaign is established, the
// forward passes and its sender is not suspended. Before InMessage, the
// attached message's text was the forward's fingerprint.
func TestForwardedOriginal(t *testing.T) {
	r := newRig(t)
	for i := range 5 {
		rcpt, raw := hamgen.Phish(i, false)
		r.send(t, fmt.Sprint("bot", i), []string{rcpt}, raw)
	}
	_, orig := hamgen.Phish(7, true)
	fwd := "From: Ann <ann@isp.example>\nTo: abuse@isp.example\nSubject: Fwd: is this real?\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=f\n\n--f\nContent-Type: text/plain\n\nI got this, is it real?\n--f\nContent-Type: message/rfc822\n\n" + string(orig) + "\n--f--\n"
	if v := r.send(t, "ann@isp.example", []string{"abuse@isp.example"}, []byte(fwd)); v.Action != policy.Accept {
		t.Fatalf("the forward: %+v", v)
	}
	if _, s, _ := r.store.Usage(context.Background(), "ann@isp.example", r.now); s != nil {
		t.Fatalf("the forwarder was suspended: %+v", s)
	}
}

// TestHTMLQuoteNesting: a quote's nested divs do not end it early: what
// follows the quote's first inner </div> is still the quote.
func TestHTMLQuoteNesting(t *testing.T) {
	got := strings.Join(Normalize(`<div>Own words here</div><div class="gmail_quote"><div class="gmail_attr">On Mon Ann wrote:</div><div><div>inner</div>tail of the quote</div></div><p>after</p>`, true, nil), " ")
	if got != "own words here after" {
		t.Errorf("%q", got)
	}
}

// TestSubjectBound: the sample subject is at most 200 bytes of valid
// UTF-8, decoded from RFC 2047.
func TestSubjectBound(t *testing.T) {
	tx := &policy.Transaction{Headers: []policy.Header{{Name: "Subject", Value: "=?utf-8?q?=C3=A4?= " + strings.Repeat("ä", 300)}}}
	s := subjectOf(tx)
	if len(s) > 200 || len(s) < 198 || !utf8.ValidString(s) || !strings.HasPrefix(s, "ä ä") {
		t.Errorf("%d bytes: %q", len(s), s)
	}
}
