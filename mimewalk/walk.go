package mimewalk

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/emersion/go-message"

	"outguard/spool"
)

// Limits bound what one message may cost to walk. Zero values take the
// defaults noted.
type Limits struct {
	MaxDepth    int   // MIME and archive nesting; 10
	MaxMembers  int   // members expanded per archive; 1000
	MaxTotal    int64 // decoded and expanded bytes per message; 200 MiB
	MaxRatio    int64 // expanded:compressed size of an archive member; 100
	MaxPart     int64 // bytes kept of one part or member; 50 MiB
	MemoryLimit int64 // an item above this is spooled to a temp file; 1 MiB
	SpoolDir    string
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 10
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = 1000
	}
	def(&l.MaxTotal, 200<<20)
	def(&l.MaxRatio, 100)
	def(&l.MaxPart, 50<<20)
	def(&l.MemoryLimit, 1<<20)
	return l
}

// Item is one thing to scan: the header block, a decoded MIME leaf, an
// archive member, or the raw message when its MIME is malformed.
type Item struct {
	Path         string // "1.2", "1.2/outer.zip/inner.exe", "header", "raw"
	PartPath     string // the MIME part, "1.2"
	ArchivePath  string // inside the part's archives, "outer.zip/inner.exe"
	ContentType  string
	Filename     string // declared or member name: a string, never a path on disk
	Depth        int
	IsAttachment bool
	IsBody       bool // a text part shown as the message body
	// What the walk met on this item, for rules to see (the externals
	// encrypted, truncated, malformed, depth_limited).
	Encrypted    bool // an encrypted archive member: Data is empty
	Truncated    bool // only the first bytes are in Data (a size or ratio limit)
	Malformed    bool // its encoding or container was broken
	DepthLimited bool // below a nesting or part-count limit: decoded flat, no structure
	Data         *spool.Spool
}

// Anomaly is something the walk met that a rule or the policy may act on:
// a malformed part, a limit reached, an encrypted member. (What an engine
// found is a policy.Finding.)
type Anomaly struct {
	Kind   string `json:"kind"` // "malformed", "limit" or "encrypted"
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// Walk reads the message from r and calls fn for every item, in order.
// It never fails on bad input: malformed MIME and limits become findings,
// and when the MIME is malformed the raw message is an item too, so that
// nothing passes unscanned. It returns fn's first error, or ctx's.
func Walk(ctx context.Context, r io.ReaderAt, size int64, lim Limits, fn func(*Item) error) ([]Anomaly, error) {
	w := &walker{ctx: ctx, lim: lim.withDefaults(), fn: fn, buf: make([]byte, 32<<10)}
	err := w.message(r, size)
	return w.findings, err
}

type walker struct {
	ctx      context.Context
	lim      Limits
	fn       func(*Item) error
	total    int64
	findings []Anomaly
	buf      []byte // one copy buffer for the whole walk
}

func (w *walker) find(kind, path, format string, args ...any) {
	w.findings = append(w.findings, Anomaly{Kind: kind, Path: path, Detail: fmt.Sprintf(format, args...)})
}

func (w *walker) message(r io.ReaderAt, size int64) error {
	// The header block, as received.
	hdr := io.NewSectionReader(r, 0, size)
	if err := w.emit(&Item{Path: "header", ContentType: "text/rfc822-headers"}, headerBlock(hdr)); err != nil {
		return err
	}
	e, err := readEntity(io.NewSectionReader(r, 0, size))
	if e == nil {
		w.find("malformed", "1", "%v", err)
		return w.raw(r, size)
	}
	malformed := len(w.findings)
	if err := w.entity(e, "1", 0, true); err != nil {
		return err
	}
	for _, f := range w.findings[malformed:] {
		if f.Kind == "malformed" {
			return w.raw(r, size)
		}
	}
	return nil
}

// raw scans the whole message undecoded.
func (w *walker) raw(r io.ReaderAt, size int64) error {
	return w.emit(&Item{Path: "raw", PartPath: "raw", ContentType: "message/rfc822"}, io.NewSectionReader(r, 0, size))
}

// headerBlock reads up to the first empty line.
func headerBlock(r io.Reader) io.Reader {
	return &untilBlank{r: r}
}

type untilBlank struct {
	r    io.Reader
	done bool
	tail [4]byte
}

func (u *untilBlank) Read(p []byte) (int, error) {
	if u.done {
		return 0, io.EOF
	}
	n, err := u.r.Read(p)
	for i := 0; i < n; i++ {
		copy(u.tail[:], u.tail[1:])
		u.tail[3] = p[i]
		if bytes.HasSuffix(u.tail[:], []byte("\r\n\r\n")) || bytes.HasSuffix(u.tail[:], []byte("\n\n")) {
			u.done = true
			return i + 1, nil
		}
	}
	return n, err
}

func (w *walker) entity(e *message.Entity, p string, depth int, top bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	ct, _, cterr := e.Header.ContentType()
	if ct == "" {
		ct = "text/plain"
	}
	if cterr != nil && e.Header.Get("Content-Type") != "" {
		w.find("malformed", p, "Content-Type: %v", cterr)
	}
	if depth > w.lim.MaxDepth {
		// Below the limit nothing is walked, but everything is scanned:
		// the subtree flat, its base64 decoded in place.
		w.find("limit", p, "MIME nesting deeper than %d: scanned flat", w.lim.MaxDepth)
		return w.emit(&Item{Path: p + "/flat", PartPath: p, ContentType: "application/octet-stream", Depth: depth, DepthLimited: true}, flatDecoder(e.Body))
	}
	if mr := multipartOf(e); mr != nil {
		n := 0
		for i := 1; ; i++ {
			part, err := mr.next()
			if errors.Is(err, io.EOF) {
				if n == 0 {
					w.find("malformed", p, "multipart without parts (missing boundary?)")
				}
				return nil
			}
			if err != nil {
				w.find("malformed", p, "%v", err)
				return nil
			}
			n++
			if n > w.lim.MaxMembers {
				w.find("limit", p, "more than %d parts: parts %d on scanned flat", w.lim.MaxMembers, n)
				return w.emit(&Item{Path: fmt.Sprintf("%s.%d+", p, i), PartPath: p, ContentType: "application/octet-stream", Depth: depth + 1, DepthLimited: true}, restOf(part, mr))
			}
			if err := w.entity(part, fmt.Sprintf("%s.%d", p, i), depth+1, false); err != nil {
				return err
			}
		}
	}
	if ct == "message/rfc822" {
		inner, err := readEntity(e.Body)
		if inner != nil {
			if err != nil && !message.IsUnknownCharset(err) {
				w.find("malformed", p, "%v", err)
			}
			return w.entity(inner, p+".1", depth+1, false)
		}
		w.find("malformed", p, "attached message: %v", err)
		return nil
	}
	disp, _, _ := e.Header.ContentDisposition()
	name := filename(e.Header)
	it := &Item{
		Path: p, PartPath: p, ContentType: ct, Filename: name, Depth: depth,
		IsAttachment: disp == "attachment" || name != "",
	}
	it.IsBody = !it.IsAttachment && strings.HasPrefix(ct, "text/")
	return w.emit(it, e.Body)
}

// emit spools the item's bytes within the limits, calls fn, then expands
// archives (not below a limit: what is flat stays flat).
func (w *walker) emit(it *Item, body io.Reader) error {
	return w.emitCapped(it, body, -1, "")
}

// emitCapped is emit with a cap of its own on the bytes read (-1: none),
// such as an archive member's expansion ratio; hitting any cap is a limit
// finding that names what was cut, and the item is marked truncated.
func (w *walker) emitCapped(it *Item, body io.Reader, cap int64, why string) error {
	sp := spool.New(w.lim.SpoolDir, w.lim.MemoryLimit)
	defer sp.Close()
	keep, what := min(w.lim.MaxPart, w.lim.MaxTotal-w.total), "part or message size limit"
	if cap >= 0 && cap < keep {
		keep, what = cap, why
	}
	n, err := io.CopyBuffer(sp, io.LimitReader(body, keep), w.buf)
	w.total += n
	if err != nil {
		var se *spool.Error
		if errors.As(err, &se) {
			return err // our disk, not the sender's MIME: an engine error
		}
		it.Malformed = true
		w.find("malformed", it.Path, "decoding: %v", err)
	}
	if n == keep {
		if extra, _ := io.ReadFull(body, w.buf[:1]); extra > 0 {
			it.Truncated = true
			w.find("limit", it.Path, "truncated: only the first %d bytes scanned (%s)", keep, what)
		}
	}
	it.Data = sp
	if err := w.fn(it); err != nil {
		return err
	}
	if it.DepthLimited {
		return nil
	}
	return w.archive(it)
}

// archive expands zip, gzip and tar items.
func (w *walker) archive(it *Item) error {
	var magic [262]byte
	m, _ := it.Data.ReadAt(magic[:], 0)
	head := magic[:m]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return w.zip(it)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return w.gzip(it)
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return w.tar(it, io.NewSectionReader(it.Data, 0, it.Data.Size()))
	}
	return nil
}

func (w *walker) member(parent *Item, name string) (*Item, bool) {
	if parent.Depth+1 > w.lim.MaxDepth {
		w.find("limit", parent.Path, "archive nesting deeper than %d", w.lim.MaxDepth)
		return nil, false
	}
	ap := name
	if parent.ArchivePath != "" {
		ap = parent.ArchivePath + "/" + name
	} else if parent.Filename != "" {
		ap = parent.Filename + "/" + name
	}
	pp := parent.PartPath
	return &Item{
		Path: pp + "/" + ap, PartPath: pp, ArchivePath: ap, Filename: path.Base(name),
		ContentType: "application/octet-stream", Depth: parent.Depth + 1, IsAttachment: true,
	}, true
}

func (w *walker) zip(it *Item) error {
	zr, err := zip.NewReader(it.Data, it.Data.Size())
	if err != nil {
		w.find("malformed", it.Path, "zip: %v", err)
		return nil
	}
	for i, f := range zr.File {
		if i >= w.lim.MaxMembers {
			w.find("limit", it.Path, "zip has more than %d members", w.lim.MaxMembers)
			return nil
		}
		if f.FileInfo().IsDir() {
			continue
		}
		mi, ok := w.member(it, f.Name)
		if !ok {
			return nil
		}
		if f.Flags&1 != 0 { // RFC-less but PKWARE APPNOTE 4.4.4: bit 0, encrypted
			// Every encrypted member is an item, empty, for rules to see.
			mi.Encrypted = true
			w.find("encrypted", mi.Path, "encrypted zip member")
			if err := w.emit(mi, bytes.NewReader(nil)); err != nil {
				return err
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			mi.Malformed = true
			w.find("malformed", mi.Path, "zip: %v", err)
			continue
		}
		// The expansion ratio is enforced on what is read, not on the
		// declared sizes, which can lie: a bomb is scanned up to the ratio.
		err = w.emitCapped(mi, rc, int64(f.CompressedSize64+1)*w.lim.MaxRatio, fmt.Sprintf("expansion ratio over %d: zip bomb?", w.lim.MaxRatio))
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) gzip(it *Item) error {
	zr, err := gzip.NewReader(io.NewSectionReader(it.Data, 0, it.Data.Size()))
	if err != nil {
		w.find("malformed", it.Path, "gzip: %v", err)
		return nil
	}
	defer zr.Close()
	name := zr.Name
	if name == "" {
		name = strings.TrimSuffix(strings.TrimSuffix(it.Filename, ".gz"), ".tgz")
		if name == "" {
			name = "gunzipped"
		}
	}
	mi, ok := w.member(it, name)
	if !ok {
		return nil
	}
	return w.emitCapped(mi, zr, (it.Data.Size()+1)*w.lim.MaxRatio, fmt.Sprintf("expansion ratio over %d: gzip bomb?", w.lim.MaxRatio))
}

func (w *walker) tar(it *Item, r io.Reader) error {
	tr := tar.NewReader(r)
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			w.find("malformed", it.Path, "tar: %v", err)
			return nil
		}
		if i >= w.lim.MaxMembers {
			w.find("limit", it.Path, "tar has more than %d members", w.lim.MaxMembers)
			return nil
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		mi, ok := w.member(it, h.Name)
		if !ok {
			return nil
		}
		if err := w.emit(mi, tr); err != nil {
			return err
		}
	}
}

// restOf reads the parts of mr from part on, each decoded at its
// transfer-encoding level and flattened: the content past a part-count
// limit, scanned as one item.
func restOf(part *message.Entity, mr *parts) io.Reader {
	return &rest{part: part, mr: mr}
}

type rest struct {
	part *message.Entity
	mr   *parts
	cur  io.Reader
}

func (r *rest) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.part == nil {
				return 0, io.EOF
			}
			r.cur = io.MultiReader(flatDecoder(r.part.Body), strings.NewReader("\n"))
			r.part = nil
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur = nil
			if next, nerr := r.mr.next(); nerr == nil {
				r.part = next
			}
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}
