package campaign

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"io"
	"strings"

	"outguard/mimewalk"
)

// The near-duplicate fingerprint is MinHash over word shingles, cut into
// LSH bands (Broder 1997; Leskovec, Rajaraman, Ullman, "Mining of Massive
// Datasets" ch. 3): two texts share a band with probability 1-(1-J^rows)^bands
// for Jaccard similarity J. Each band is a store key, so that counting the
// distinct accounts per key is an exact count in the shared store, across
// a fleet, with no similarity search: a campaign is a key that many
// accounts sent. A dozen lines of arithmetic do not justify a dependency
// (the Go MinHash packages keep an in-memory index; here the store is
// the index).
const (
	shingleWords = 2  // words per shingle
	bands        = 20 // LSH bands: keys per message
	rows         = 3  // MinHash values per band
	// Quorum is how many bands of two texts must agree for them to be one
	// campaign (limits.CampaignCopy.Bands): one band may rest on a
	// sentence thousands of messages share, a quorum is most of a text.
	Quorum = 5
	// MinWords is the least own text (tokens after Normalize) that is
	// fingerprinted: short replies ("Thanks!", "See you tomorrow") are
	// the same from thousands of customers and say nothing of a campaign.
	MinWords = 20
	// MinFile is the least size of an attachment whose hash is a key, and
	// MaxFiles the most attachments of one message that are keys.
	MinFile  = 512
	MaxFiles = 16
	// version is in every key: a change to the normalizer or the
	// parameters starts new keys instead of mixing with old ones.
	version = "1"
)

// Fingerprint is what one message is recognised by: the LSH band keys of
// its own text (none when it is shorter than MinWords) and the SHA-256 of
// its decoded attachments.
type Fingerprint struct {
	Text  []string `json:"text,omitempty"`  // "t1" + band + hash
	Files []string `json:"files,omitempty"` // "f1" + hash
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
	names  map[string]bool
	shing  map[uint64]struct{}
	words  int
	text   int // bytes of text read
	files  []string
	seen   map[string]bool
	done   bool
	failed bool
	// the links' and the addresses' registrable domains (sender.go)
	hosts, mailDomains map[string]bool
}

// NewCollector starts a fingerprint; names are the recipients' (Names).
func NewCollector(names map[string]bool) *Collector {
	return &Collector{names: names, shing: map[uint64]struct{}{}, seen: map[string]bool{}}
}

// Item takes one item of the walk: body text is normalized and shingled,
// an attachment (not an image: a signature's logo is the same under every
// message of a company's staff) hashed. Archive members are not keys of
// their own: the archive is. An attached message (message/rfc822) is
// someone else's: a customer forwarding a phishing mail to the abuse desk
// must not count as its sender.
func (c *Collector) Item(it *mimewalk.Item) {
	if it.ArchivePath != "" || it.InMessage || it.Path == "header" || it.Path == "raw" || it.Carved {
		return
	}
	ct := strings.ToLower(it.ContentType)
	switch {
	case it.IsBody && (ct == "text/plain" || ct == "text/html"):
		c.text1(it, ct == "text/html")
	case it.IsAttachment && !strings.HasPrefix(ct, "image/") && !strings.HasPrefix(ct, "multipart/") && !strings.HasPrefix(ct, "message/") &&
		it.Data.Size() >= MinFile && len(c.files) < MaxFiles:
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(it.Data, 0, it.Data.Size())); err != nil {
			c.failed = true
			return
		}
		k := "f" + version + hex.EncodeToString(h.Sum(nil)[:16])
		if !c.seen[k] {
			c.seen[k] = true
			c.files = append(c.files, k)
		}
	}
}

func (c *Collector) text1(it *mimewalk.Item, isHTML bool) {
	n := min(it.Data.Size(), int64(MaxText-c.text))
	if n <= 0 {
		return
	}
	b := make([]byte, n)
	if _, err := it.Data.ReadAt(b, 0); err != nil && err != io.EOF {
		c.failed = true
		return
	}
	c.text += int(n)
	c.links(string(b))
	toks := Normalize(string(b), isHTML, c.names)
	// The text and the HTML alternative of one message give the same
	// shingles: their union is the set of either.
	c.words = max(c.words, len(toks))
	for _, s := range shingles(toks) {
		c.shing[s] = struct{}{}
	}
}

// Done marks the walk complete: a fingerprint of a walk cut short
// (a failure, a timeout) is not used.
func (c *Collector) Done() { c.done = true }

// Complete reports whether the walk reached its end and every item read.
func (c *Collector) Complete() bool { return c.done && !c.failed }

// Fingerprint is the message's fingerprint.
func (c *Collector) Fingerprint() Fingerprint {
	f := Fingerprint{Files: c.files, Words: c.words}
	if c.words >= MinWords {
		f.Text = bandKeys(c.shing)
	}
	return f
}

// shingles hashes each run of shingleWords tokens (FNV-1a: the same on
// every host of a fleet, unlike hash/maphash).
func shingles(toks []string) []uint64 {
	if len(toks) < shingleWords {
		return nil
	}
	out := make([]uint64, 0, len(toks)-shingleWords+1)
	for i := 0; i+shingleWords <= len(toks); i++ {
		h := fnv.New64a()
		for _, t := range toks[i : i+shingleWords] {
			h.Write([]byte(t))
			h.Write([]byte{0})
		}
		out = append(out, h.Sum64())
	}
	return out
}

// bandKeys computes bands*rows MinHash values, each the minimum over the
// shingles of a differently seeded mix, and names each band by a hash of
// its index and values.
func bandKeys(set map[uint64]struct{}) []string {
	var mins [bands * rows]uint64
	for i := range mins {
		mins[i] = ^uint64(0)
	}
	for s := range set {
		for i := range mins {
			if v := mix(s ^ seeds[i]); v < mins[i] {
				mins[i] = v
			}
		}
	}
	keys := make([]string, bands)
	var buf [8 * (rows + 1)]byte
	for b := range bands {
		binary.BigEndian.PutUint64(buf[:], uint64(b))
		for r := range rows {
			binary.BigEndian.PutUint64(buf[8*(r+1):], mins[b*rows+r])
		}
		sum := sha256.Sum256(buf[:])
		keys[b] = "t" + version + hex.EncodeToString(sum[:12])
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

// seeds are fixed, so that every host computes the same keys.
var seeds = func() (s [bands * rows]uint64) {
	x := uint64(0x6f75746775617264) // "outguard"
	for i := range s {
		x += 0x9e3779b97f4a7c15
		s[i] = mix(x)
	}
	return s
}()
