package campaign

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"outguard/mimewalk"
)

// The near-duplicate fingerprint is a sample of the text's word runs
// chosen by their hash alone (Broder's "mod m" sampling, the idea of
// winnowing: Schleimer, Wilkerson, Aiken, SIGMOD 2003): a run is a key
// wherever it stands and whatever surrounds it, so two texts sharing a
// long passage share that passage's keys however much either adds to it
// (containment, not the whole-text resemblance MinHash measures: 40
// random words appended to each copy dilute a MinHash but leave a
// passage's sampled runs alone). A run is three words with at most one
// other word among them ("a b c" of "a b c", "a x b c" and "a b x c"), so
// that a random word inserted in every few keeps most runs; three words,
// not two, so that what every text says ("of the", "let me") is no
// match. Each key is a store key: counting the distinct accounts per key
// is an exact count in the shared store, across a fleet, with no
// similarity search. A dozen lines of arithmetic do not justify a
// dependency (the Go MinHash and simhash packages keep an in-memory
// index; here the store is the index).
const (
	// sampleRate: one run in sampleRate is a key (those whose hash is
	// below 2^64/sampleRate); a text of n words has about 3n runs,
	// 3n/sampleRate keys.
	sampleRate = 4
	// MinKeys and MaxKeys bound a text's keys: below MinKeys sampled
	// runs (a short text), its MinKeys smallest-hashed runs are keys (a
	// text of fewer distinct runs, one word over and over, has none);
	// above MaxKeys (a long one), its MaxKeys smallest: a bottom-k sample,
	// still the same runs of a shared passage in every copy, fewer of
	// them the more is added. MaxKeys is what junk added to each copy must
	// outnumber: a 78-word text keeps a quorum of keys with up to 1500
	// random words added to each copy (TestReviewBulkJunk; with 128 keys
	// up to 300: 400 were found at the 23rd account, 600 never), and a
	// key is a row of the store: a long text costs up to MaxKeys rows
	// (BenchmarkStoreCopy).
	MinKeys = 32
	MaxKeys = 512
	// MaxTextParts is how many text parts (the last ones) give keys,
	// each sampled on its own and the samples taken in turn, smallest
	// first: every part keeps at least MinKeys of its keys (MaxKeys /
	// MinKeys). One sample of the runs of every part together let the
	// text/plain alternative no HTML reader sees carry the junk that
	// crowded the shown text out of it (TestReviewAlternativeJunk); a
	// text/plain alternative after the HTML one is the one a client
	// shows (RFC 2046 5.1.4), and parts after the shown text in a
	// multipart/mixed are shown too.
	MaxTextParts = MaxKeys / MinKeys
	// Quorum is how many text keys of two copies must agree for them to
	// be one campaign (limits.CampaignCopy.Bands): most of a short text
	// (25 of 32), a passage of some 35 words of a longer one: more than
	// the common sentences a thousand customers write ("Please let me
	// know if you have any questions.") have between them. Measured on
	// internal/hamgen's corpus: the fourth other account closest to a
	// message shares at most 21 of its keys; copies with a random word in
	// every six share 27 and more.
	Quorum = 25
	// MinWords is the least own text (tokens after Normalize) that is
	// fingerprinted: short replies ("Thanks!", "See you tomorrow") are
	// the same from thousands of customers and say nothing of a campaign.
	MinWords = 20
	// MinFile is the least size of an attachment whose hash is a key, and
	// MaxFiles the most attachments of one message that are keys.
	MinFile  = 512
	MaxFiles = 16
	// version is in every key: a change to the normalizer or the
	// parameters starts new keys instead of mixing with old ones. The
	// notice salted with its message's targets (targets.go) changed the
	// keys of messages with a notice cut and a payload only: version
	// stays, so that every other message's keys still match across a
	// fleet's upgrade (a salted notice matches none of the old plain
	// ones for one window).
	version = "2"
)

// Fingerprint is what one message is recognised by: the sampled runs
// of its own text (none when it is shorter than MinWords) and the SHA-256
// of its decoded attachments, of an archive its decoded members'.
type Fingerprint struct {
	Text  []string `json:"text,omitempty"`  // "t2" + run hash
	Files []string `json:"files,omitempty"` // "f2" + hash
	Words int      `json:"words"`           // tokens of own text
}

// Keys are the fingerprint's store keys.
func (f Fingerprint) Keys() []string {
	return append(append([]string(nil), f.Text...), f.Files...)
}

// Collector builds a message's fingerprint from the items of its MIME
// walk, the same walk YARA's rules see (rules.Engine.Tap): the message is
// parsed once.
type Collector struct {
	names   map[string]bool
	parts   [][]uint64 // the sampled runs of the last MaxTextParts text parts (sample)
	words   int
	files   []string
	members map[string]*members // an attachment's archive members, by its MIME part
	seen    map[string]bool
	done    bool
	failed  bool
	// the links' and the addresses' registrable domains (sender.go)
	hosts, mailDomains map[string]bool
	seed               Seed
	// full are, for each of parts, its sampled runs with the boilerplate
	// block cut from it kept (nil: none was cut), fullWords the most
	// words so; notice, the runs of the block's words (noticeToks), nil
	// when none was cut; payload: a part had a link or a long number
	// (normalized), or the message an attachment or an image, with
	// which the blocks are the sender's text, salted with each of its
	// targets (targets.go; an attachment's or an image's, partHash:
	// Fingerprint). The targets, and a payload written in words, are
	// looked for once a block is cut (noticed); until then the parts'
	// texts wait, at most maxWait bytes of them (normalized.wait).
	full      [][]uint64
	fullWords int
	notice    [][]uint64
	payload   bool
	targets   map[string]bool
	// toolFiles: a part's block cut is the text of a tool that sends
	// files (toolTexts): salted only when every target is a file.
	toolFiles bool
	partHash  map[string]string // an attachment's or image's "f" key, by its MIME part
	// imageCID are the image parts' content ids, by MIME part;
	// linked the content ids of images an HTML part shows inside a link
	// only (linkedImages), which are that link's asset: no target.
	imageCID      map[string]string
	linked, shown map[string]bool
	noticed       bool
	wait          []payloadText
	waitBytes     int
	// mail are the registrable domains of the text's e-mail addresses,
	// addrs the addresses (at most 64); ownMail the sender
	// organisation's domain, whose addresses are no payload
	// (CampaignCount): writing to the sender's own organisation is
	// writing back to the sender, as a reply is. shared are the consumer
	// domains (Options.SharedDomains, sharedNames), whose addresses are
	// anyone's (mailTarget).
	mail, addrs map[string]bool
	ownMail     string
	shared      []string
}

// members are the hashes of one attached archive's decoded members.
type members struct {
	file   int // its index in Collector.files, -1: none (small, or past MaxFiles)
	hashes []string
	// encrypted: it has members the walk could not read (encrypted)
	// and that have no seal (mimewalk.Item.Sealed)
	encrypted bool
}

// key is the key of the archive's members, "" when none was read (not
// opened: the archive's bytes are its key) or one was encrypted without
// a seal: its readable members alone (a tool's readme beside the
// encrypted files) are what every customer of that tool sends, and six
// customers each sending their own were a campaign
// (TestReviewEncryptedZipsInnocentShapes).
func (m *members) key() string {
	if len(m.hashes) == 0 || m.encrypted {
		return ""
	}
	slices.Sort(m.hashes)
	return "f" + version + hashOf(strings.Join(slices.Compact(m.hashes), ","))
}

// NewCollector starts a fingerprint; names are the recipients' (Names),
// seed keys the run hash (Seed).
func NewCollector(names map[string]bool, seed Seed) *Collector {
	return &Collector{names: names, members: map[string]*members{}, seen: map[string]bool{}, seed: seed}
}

// Item takes one item of the walk: body text is normalized and its runs
// sampled, an attachment (not an image: a signature's logo is the same
// under every message of a company's staff) hashed, and an archive's
// members hashed for the archive: the same files zipped again for each
// copy (other timestamps, order, compression, a comment) are different
// bytes but the same members. An attached message (message/rfc822) is
// someone else's: a customer forwarding a phishing mail to the abuse desk
// must not count as its sender.
func (c *Collector) Item(it *mimewalk.Item) {
	// An attachment, an image, an attached message, or what the walk
	// could not read as parts (nested past its limit, malformed) is
	// something to act on besides the text: a shared notice is then the
	// sender's text (cutBoilerplate).
	// An attachment or an image is named by its decoded content
	// (partHash, payloadTargets): the same file or image in every copy of a run is
	// one target, each organisation's own logo or PDF its own. What
	// has no such name (an attached message, parts the walk read flat,
	// an encrypted archive member: no content) is "any".
	if it.InMessage || it.DepthLimited || it.Carved || it.Path == "raw" || it.Encrypted {
		c.payload = true
		c.target(anyTarget)
	}
	if it.InMessage || it.Path == "header" || it.Path == "raw" || it.Carved {
		return
	}
	var part string // it's hash, once taken
	if it.IsAttachment && it.ArchivePath == "" && !it.DepthLimited {
		c.payload = true
		k, ok := c.hash(it)
		if !ok {
			return
		}
		part = k
		if c.partHash == nil {
			c.partHash = map[string]string{}
		}
		c.partHash[it.PartPath] = k
		if it.ContentID != "" && strings.HasPrefix(strings.ToLower(it.ContentType), "image/") {
			if c.imageCID == nil {
				c.imageCID = map[string]string{}
			}
			c.imageCID[it.PartPath] = strings.ToLower(it.ContentID)
		}
		if archiveType(it.FileType) && c.members[it.PartPath] == nil {
			c.members[it.PartPath] = &members{file: -1}
		}
	}
	ct := strings.ToLower(it.ContentType)
	// A body part the text is not read from (a calendar invitation's
	// text/calendar beside the text, a text/vcard, text/enriched) shows
	// its links and numbers to a reader all the same
	// (TestReviewNoticeOtherParts).
	if it.IsBody && ct != "text/plain" && ct != "text/html" && !strings.HasPrefix(ct, "multipart/") {
		c.payload = true
		c.target(anyTarget)
	}
	switch {
	case it.ArchivePath != "":
		m := c.members[it.PartPath]
		if m != nil && it.Encrypted {
			// An encrypted member, whose content the walk cannot
			// read, is named by what it is sealed as (mimewalk's
			// Sealed: its stored bytes, whatever was packed around
			// them per copy). Hashed as empty, every
			// password-protected zip was one key, and six customers
			// each sending their own within the window were a
			// campaign (TestEncryptedZipsInnocent). Without a seal
			// (RAR) the archive is keyed by its bytes (fileKeys),
			// and matches alone as any archive (archiveKeys).
			if it.Sealed == "" {
				m.encrypted = true
			} else {
				m.hashes = append(m.hashes, "f"+version+hashOf(it.Sealed))
			}
		}
		if m == nil || archiveType(it.FileType) || it.Encrypted {
			// Not in a hashed attachment; or an archive inside the
			// archive: its own members are hashed, not its bytes.
			return
		}
		if k, ok := c.hash(it); ok {
			m.hashes = append(m.hashes, k)
		}
	case it.IsBody && (ct == "text/plain" || ct == "text/html"):
		c.text1(it, ct == "text/html")
	case it.IsAttachment && ct == "text/html":
		// An attached HTML page is read as text: the commonest
		// credential-phishing shape ("Invoice.html" under a line of
		// body), its bytes varied per copy by a token or a comment
		// (TestReviewHTMLAttachment).
		c.text1(it, true)
	case it.IsAttachment && !strings.HasPrefix(ct, "image/") && !strings.HasPrefix(ct, "multipart/") && !strings.HasPrefix(ct, "message/") &&
		it.Data.Size() >= MinFile && len(c.files) < MaxFiles && part != "" && !c.seen[part]:
		c.seen[part] = true
		c.files = append(c.files, part)
		if m := c.members[it.PartPath]; m != nil {
			m.file = len(c.files) - 1
		}
	}
}

// hash is the "f" key of it's decoded bytes.
func (c *Collector) hash(it *mimewalk.Item) (string, bool) {
	h := sha256.New()
	if b, inMem := it.Data.Bytes(); inMem {
		h.Write(b) // io.Copy would take a fresh 32 KiB buffer an item
	} else if _, err := io.Copy(h, io.NewSectionReader(it.Data, 0, it.Data.Size())); err != nil {
		c.failed = true
		return "", false
	}
	return "f" + version + hex.EncodeToString(h.Sum(nil)[:16]), true
}

// archiveType reports whether the walk opens files of type t as
// archives, whose members it then walks.
func archiveType(t string) bool {
	switch t {
	case mimewalk.TypeZip, mimewalk.TypeGzip, mimewalk.TypeBzip2, mimewalk.TypeXZ, mimewalk.TypeTar, mimewalk.Type7z, mimewalk.TypeRAR, mimewalk.TypeISO:
		return true
	}
	return false
}

func (c *Collector) text1(it *mimewalk.Item, isHTML bool) {
	// MaxText of each part: a long first part must not leave the text
	// after it unread.
	b := make([]byte, min(it.Data.Size(), MaxText))
	if _, err := it.Data.ReadAt(b, 0); err != nil && err != io.EOF {
		c.failed = true
		return
	}
	text := string(b) // one copy for both
	c.links(text)
	if isHTML {
		linkedImages(text, func(cid string, linked bool) {
			if c.linked == nil {
				c.linked, c.shown = map[string]bool{}, map[string]bool{}
			}
			if linked {
				c.linked[cid] = true
			} else {
				c.shown[cid] = true
			}
		})
	}
	n := normalize(text, isHTML, c.names)
	c.payload = c.payload || n.payload
	c.target(n.targets...)
	for _, d := range n.mail {
		c.noteMail(d)
	}
	for _, a := range n.addrs {
		c.noteAddr(a)
	}
	c.noticed = c.noticed || n.full != nil
	c.toolFiles = c.toolFiles || n.toolFiles
	c.wait = append(c.wait, n.wait)
	c.waitBytes += n.wait.size()
	if c.noticed || c.waitBytes > maxWait {
		for _, w := range c.wait {
			if !w.plain && !w.spelled() {
				continue
			}
			c.payload = true
			if c.noticed {
				w.name(func(id string) { c.target(id) })
			} else {
				c.target(anyTarget) // too much to keep: the block plain text
			}
		}
		c.wait, c.waitBytes = nil, 0
	}
	c.words = max(c.words, len(n.toks))
	c.fullWords = max(c.fullWords, len(n.toks), len(n.full))
	if len(c.parts) == MaxTextParts {
		c.parts = slices.Delete(c.parts, 0, 1)
		c.full = slices.Delete(c.full, 0, 1)
		c.notice = slices.Delete(c.notice, 0, 1)
	}
	c.parts = append(c.parts, sample(appendRuns(nil, n.toks, c.seed)))
	var full, notice []uint64
	if n.full != nil {
		// Sampled now: a payload in a later part makes the block the
		// sender's text again (Fingerprint).
		full = sample(appendRuns(nil, n.full, c.seed))
		notice = appendRuns(nil, noticeToks(n.toks, n.full), c.seed)
	}
	c.full = append(c.full, full)
	c.notice = append(c.notice, notice)
}

// noteMail notes the domain d of an address in the text.
func (c *Collector) noteMail(d string) {
	if c.mail == nil {
		c.mail = map[string]bool{}
	}
	c.mail[registrable(d)] = true
}

// noteAddr notes an address a of the text, at most 64 (then "any").
func (c *Collector) noteAddr(a string) {
	if c.addrs == nil {
		c.addrs = map[string]bool{}
	}
	if len(c.addrs) < 64 {
		c.addrs[a] = true
	} else {
		c.target(anyTarget)
	}
}

// target notes what the message asks its reader to act on.
func (c *Collector) target(ids ...string) {
	for _, id := range ids {
		if c.targets == nil {
			c.targets = map[string]bool{}
		}
		c.targets[id] = true
	}
}

// payloadTargets are the message's targets (target), its addresses'
// among them but those at the sender's own organisation (ownMail), and
// whether it has a payload.
func (c *Collector) payloadTargets() (map[string]bool, bool) {
	out := maps.Clone(c.targets)
	if out == nil {
		out = map[string]bool{}
	}
	named := map[string]bool{}
	for a := range c.addrs {
		d := domainOf(a)
		if d == "" || d == c.ownMail {
			continue
		}
		out[mailTarget(a, c.shared)] = true
		named[d] = true
	}
	for d := range c.mail {
		// One the address scan did not name (written as
		// "desk(at)help.example"): its domain's, or anyone's on a
		// free-mail or consumer domain.
		if d != c.ownMail && !named[d] {
			if anyones(d, c.shared) {
				out[anyTarget] = true
			} else {
				out["mail:"+d] = true
			}
		}
	}
	for p, k := range c.partHash {
		if cid := c.imageCID[p]; cid != "" && c.linked[cid] && !c.shown[cid] {
			// A link's content (a template's social icon): the link
			// is the target (TestLinkedImageOwnLinks).
			continue
		}
		// An archive by its members: the same files zipped again per
		// copy are one target.
		if m := c.members[p]; m != nil && m.key() != "" {
			k = m.key()
		}
		out["file:"+k] = true
	}
	if c.payload && len(c.targets) == 0 && len(c.partHash) == 0 {
		out[anyTarget] = true // a payload named by none: never salted with less
	}
	return out, c.payload || len(out) > 0
}

// Done marks the walk complete: a fingerprint of a walk cut short
// (a failure, a timeout) is not used.
func (c *Collector) Done() { c.done = true }

// Complete reports whether the walk reached its end and every item read.
func (c *Collector) Complete() bool { return c.done && !c.failed }

// Fingerprint is the message's fingerprint.
func (c *Collector) Fingerprint() Fingerprint {
	parts, words := c.parts, c.words
	if targets, ok := c.payloadTargets(); ok {
		// A link, an address or a number anywhere in the message: a
		// boilerplate block cut from any part is the sender's text
		// (cutBoilerplate), its runs salted with each target the
		// message points to: copies of one notice are one campaign
		// when they point to one target. Without a safe name for each
		// (an attachment: "any"), or with more than maxTargets of them,
		// the block is plain text, whatever the targets.
		parts, words = slices.Clone(parts), c.fullWords
		var notice []uint64
		for _, n := range c.notice {
			notice = append(notice, n...)
		}
		if len(notice) > 0 && !targets[anyTarget] && len(targets) <= maxTargets && len(parts)+len(targets) <= MaxTextParts &&
			(!c.toolFiles || filesOnly(targets)) {
			for _, id := range slices.Sorted(maps.Keys(targets)) {
				parts = append(parts, sample(saltRuns(notice, id)))
			}
		} else {
			for i, s := range c.full {
				if s != nil {
					parts[i] = s
				}
			}
		}
	}
	f := Fingerprint{Files: c.fileKeys(), Words: words}
	if keys := textKeys(parts); words >= MinWords && len(keys) >= MinKeys {
		f.Text = keys
	}
	return f
}

// fileKeys are the fingerprint's Files: without its text keys, which
// sort every run of the text (archiveKeys wants the files alone).
func (c *Collector) fileKeys() []string {
	files := slices.Clone(c.files)
	for _, m := range c.members {
		if k := m.key(); k != "" && m.file >= 0 {
			files[m.file] = k
		}
	}
	return files
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// appendRuns appends the hash of each run of three words of toks with
// at most one other word among them ("a b c" of "a b c", "a x b c" and
// "a b x c"): FNV-1a of each word, combined with splitmix64 keyed by
// seed (the same on every host of a fleet, which reads one seed from
// the shared store, unlike hash/maphash). The zero seed is the hash of versions before seeds:
// their keys, and testdata/corpus.digest, are unchanged.
func appendRuns(hs []uint64, toks []string, seed Seed) []uint64 {
	w := make([]uint64, len(toks))
	for i, t := range toks {
		w[i] = wordHash(t)
	}
	for i := range w {
		for _, jk := range [...][2]int{{1, 2}, {1, 3}, {2, 3}} {
			if j, k := i+jk[0], i+jk[1]; k < len(w) {
				hs = append(hs, seed.runHash(w[i], w[j], w[k]))
			}
		}
	}
	return hs
}

// wordHash is FNV-1a of a word.
func wordHash(t string) uint64 {
	h := uint64(14695981039346656037)
	for j := 0; j < len(t); j++ {
		h = (h ^ uint64(t[j])) * 1099511628211
	}
	return h
}

// runHash is the hash of the run of the words hashed a, b and c.
func (s Seed) runHash(a, b, c uint64) uint64 {
	return mix(mix(mix(a^runSeed^s.run)+(b^s.word)) + c)
}

// filesOnly reports whether every target is a file's ("file:"): under a
// tool that sends files, the notice is salted only then (toolFiles).
func filesOnly(targets map[string]bool) bool {
	for id := range targets {
		if !strings.HasPrefix(id, "file:") {
			return false
		}
	}
	return true
}

// sample is one part's sampled runs, sorted: those whose hash is below
// 2^64/sampleRate, at least MinKeys and at most MaxKeys of the smallest.
func sample(hs []uint64) []uint64 {
	slices.Sort(hs)
	hs = slices.Compact(hs)
	n, _ := slices.BinarySearch(hs, ^uint64(0)/sampleRate)
	return slices.Clip(hs[:min(max(n, MinKeys), MaxKeys, len(hs))])
}

// textKeys are the keys of parts' samples taken in turn, each's smallest
// first, at most MaxKeys: the text and the HTML alternative of one
// message have the same runs, and their keys are those of either.
func textKeys(parts [][]uint64) []string {
	var hs []uint64
	seen := map[uint64]bool{}
	for i := 0; len(hs) < MaxKeys; i++ {
		more := false
		for _, p := range parts {
			if i >= len(p) || len(hs) == MaxKeys {
				continue
			}
			more = true
			if !seen[p[i]] {
				seen[p[i]] = true
				hs = append(hs, p[i])
			}
		}
		if !more {
			break
		}
	}
	slices.Sort(hs)
	keys := make([]string, len(hs))
	for i, h := range hs {
		keys[i] = "t" + version + strconv.FormatUint(h, 16)
	}
	return keys
}

// mix is splitmix64's finalizer: a fixed, well-spread permutation of
// 64-bit values.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// runSeed orders a run: "a b c" and "b a c" are different runs.
const runSeed = 0x6f75746775617264 // "outguard"

// subject notes the targets and addresses of the message's subject s.
func (c *Collector) subject(s string) {
	textTargets(s, c.noteMail, func(id string) {
		c.payload = true
		c.target(id)
	})
	mailAddresses(s, c.noteAddr)
}
