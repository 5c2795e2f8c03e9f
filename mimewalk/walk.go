package mimewalk

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"path"
	"strings"
	"sync"

	"github.com/bodgit/sevenzip"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

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
	Encrypted bool // an encrypted archive member: Data is empty
	// Sealed names an encrypted member without its content: a digest of
	// its stored (encrypted) bytes in a zip, of the plaintext's CRC-32
	// and size a 7z declares; "" where the format gives neither (RAR).
	// The same encrypted file is one whatever is packed around it: a
	// comment, an outer archive, a gzip made per copy
	// (campaign.TestReviewR1EncryptedZipWrapped).
	Sealed       string
	Truncated    bool // only the first bytes are in Data (a size or ratio limit)
	Malformed    bool // its encoding or container was broken
	DepthLimited bool // below a nesting or part-count limit: decoded flat, no structure
	// What the item is by its content (Sniff), whatever it is called: the
	// external file_type.
	FileType string
	// Every name declared for it (Content-Disposition filename and
	// Content-Type name of every such field, a uuencode or yEnc begin line,
	// an archive member name); Filename is the first.
	Names []string
	// Cut out of a flat run by its signature (past a limit, or the raw
	// message when the MIME is malformed).
	Carved bool
	// An archive that was not opened (a format no library here reads, a
	// broken or truncated one, past the nesting ceiling): set after fn saw
	// the item; the finding "unopened" on its path says why.
	Unopened bool
	// InMessage: inside an attached message (message/rfc822), not the
	// sender's own text: a forwarded original.
	InMessage bool
	// ContentID is the part's Content-ID without its angle brackets:
	// what an HTML part's "cid:" URLs name.
	ContentID string
	Data      *spool.Spool
}

// Anomaly is something the walk met that a rule or the policy may act on:
// a malformed part, a limit reached, an encrypted member, an archive not
// opened, headers readable two ways. (What an engine found is a
// policy.Finding.)
type Anomaly struct {
	// "malformed", "limit", "encrypted", "unopened" (an archive not
	// opened) or "ambiguous" (headers readable two ways: each scanned)
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// Walk reads the message from r and calls fn for every item, in order.
// It never fails on bad input: malformed MIME and limits become findings,
// and when the MIME is malformed the raw message is an item too, so that
// nothing passes unscanned. It returns fn's first error, or ctx's.
func Walk(ctx context.Context, r io.ReaderAt, size int64, lim Limits, fn func(*Item) error) ([]Anomaly, error) {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	w := &walker{ctx: ctx, lim: lim.withDefaults(), fn: fn, buf: buf[:]}
	err := w.message(r, size)
	if err == nil {
		// A decoder that failed as ctx ended (read as a malformed or
		// unopened archive) left the rest of it unread.
		err = w.stopped("1")
	}
	return w.findings, err
}

// stopped is nil until ctx ends (message_timeout), then the walk's error:
// the item being decoded gets a limit finding naming the cause. Decoding
// one archive member may take longer than the deadline (a solid 7z, a
// stream just under the expansion ratio, archives nested), so the walk
// looks at ctx on every read of a decoder's input and output (ctxReader,
// ctxReaderAt), not only between parts.
func (w *walker) stopped(path string) error {
	err := w.ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(w.ctx)
	w.find("limit", path, "not scanned further: %v", cause)
	if cause != err {
		return fmt.Errorf("walk stopped in %s: %w (%w)", path, err, cause)
	}
	return fmt.Errorf("walk stopped in %s: %w", path, err)
}

// ctxReader fails every read once ctx has ended: a decoder reading from
// it (or read through it) stops at its next read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ctxReaderAt is ctxReader for the archive libraries reading an item's
// bytes at offsets. With piece, a read returns at most that many bytes
// (short, with no error: for a reader that takes it, see sevenZip).
type ctxReaderAt struct {
	ctx   context.Context
	r     io.ReaderAt
	piece int
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.piece > 0 && len(p) > c.piece {
		p = p[:c.piece]
	}
	return c.r.ReadAt(p, off)
}

// in is the item's bytes for an archive library, read within ctx.
func (w *walker) in(it *Item) io.ReaderAt { return ctxReaderAt{ctx: w.ctx, r: it.Data} }

// copyBufs keeps the walks' copy buffers between messages (issue #32: a
// fresh one a message was garbage the collector zeroed and swept).
var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

type walker struct {
	ctx      context.Context
	lim      Limits
	fn       func(*Item) error
	total    int64
	findings []Anomaly
	buf      []byte // one copy buffer for the whole walk
	attached int    // depth of attached messages around the entity walked
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

// raw scans the whole message as it came, with its base64 runs decoded
// in place and the files in it carved out by their signatures.
func (w *walker) raw(r io.ReaderAt, size int64) error {
	return w.emit(&Item{Path: "raw", PartPath: "raw", ContentType: "message/rfc822", DepthLimited: true}, flatDecoder(io.NewSectionReader(r, 0, size)))
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
	if n := len(e.Header.Values("Content-Type")); n > 1 {
		// Clients differ on which one counts: every name of every field
		// is a declared name, and the first type decides the structure.
		w.find("ambiguous", p, "%d Content-Type fields: the first used, every name kept", n)
	}
	if depth > w.lim.MaxDepth {
		// Below the limit nothing is walked, but everything is scanned:
		// the subtree flat, its base64 decoded in place, and the files in
		// it carved out by their signatures.
		w.find("limit", p, "MIME nesting deeper than %d: scanned flat", w.lim.MaxDepth)
		return w.emit(&Item{Path: p + "/flat", PartPath: p, ContentType: "application/octet-stream", Depth: depth, DepthLimited: true}, flatDecoder(e.Body))
	}
	if mr, pre := multipartOf(e, w.lim.MaxPart); mr != nil {
		if len(bytes.TrimSpace(pre)) > 0 {
			if err := w.emit(&Item{Path: p + "/preamble", PartPath: p, ContentType: "text/plain", Depth: depth}, bytes.NewReader(pre)); err != nil {
				return err
			}
		}
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
	encs, odd := transferEncodings(e.Header)
	if odd != "" {
		w.find("ambiguous", p, "Content-Transfer-Encoding %s: scanned as %s", odd, strings.Join(encs, ", "))
	}
	if ct == "message/rfc822" || ct == "message/global" {
		// RFC 2046 5.2.1 allows only 7bit, 8bit and binary here; most
		// clients decode base64 and quoted-printable anyway, others show
		// the text as it is (Python's email does): both are scanned.
		body := e.Body
		if encs[0] != "identity" {
			w.find("ambiguous", p, "attached message in %s (RFC 2046 5.2.1): scanned as text and as a message", encs[0])
			sp := spool.New(w.lim.SpoolDir, w.lim.MemoryLimit)
			defer sp.Close()
			if _, err := io.CopyBuffer(sp, io.LimitReader(e.Body, w.lim.MaxPart), w.buf); err != nil {
				var se *spool.Error
				if errors.As(err, &se) {
					return err
				}
			}
			raw := &Item{Path: p + "~text", PartPath: p, ContentType: ct, Depth: depth, IsAttachment: true}
			if err := w.emit(raw, io.NewSectionReader(sp, 0, sp.Size())); err != nil {
				return err
			}
			body = io.NewSectionReader(sp, 0, sp.Size())
			// And the decoded message whole, as ripmime saves it.
			if err := w.emit(&Item{Path: p + "~" + encs[0], PartPath: p, ContentType: ct, Depth: depth, IsAttachment: true}, decoder(encs[0], io.NewSectionReader(sp, 0, sp.Size()))); err != nil {
				return err
			}
		}
		inner, err := readEntity(decoder(encs[0], body))
		if err != nil {
			// Its bytes are scanned in the raw item (malformed), carved.
			w.find("malformed", p, "attached message: %v", err)
			return nil
		}
		w.attached++
		defer func() { w.attached-- }()
		return w.entity(inner, p+".1", depth+1, false)
	}
	if ct == "message/partial" || ct == "message/external-body" {
		// RFC 2046 5.2.2/5.2.3: a fragment of a message, or one kept
		// elsewhere; some clients reassemble or fetch it. Neither is
		// done here: the fragment is scanned as it is, and unopened.
		it := &Item{Path: p, PartPath: p, ContentType: ct, Depth: depth, IsAttachment: true}
		it.DepthLimited = true // flat: base64 decoded in place, carved, its names read
		if err := w.emit(it, flatDecoder(e.Body)); err != nil {
			return err
		}
		return w.unopened(it, "%s: not reassembled", ct)
	}
	disp, _, _ := e.Header.ContentDisposition()
	names := declaredNames(e.Header)
	it := &Item{
		Path: p, PartPath: p, ContentType: ct, Names: names, Depth: depth,
		// What a mail client lists as an attachment: one so marked, one
		// with a name, or an inline part it does not show as text.
		IsAttachment: disp == "attachment" || len(names) > 0 || !strings.HasPrefix(ct, "text/"),
	}
	if len(names) > 0 {
		it.Filename = names[0]
	}
	it.ContentID = strings.Trim(strings.TrimSpace(e.Header.Get("Content-ID")), "<>")
	it.IsBody = !it.IsAttachment
	if len(encs) == 1 {
		return w.emit(it, decoder(encs[0], e.Body))
	}
	// Several readings: the body kept once, scanned under each.
	sp := spool.New(w.lim.SpoolDir, w.lim.MemoryLimit)
	defer sp.Close()
	if _, err := io.CopyBuffer(sp, io.LimitReader(e.Body, w.lim.MaxPart), w.buf); err != nil {
		var se *spool.Error
		if errors.As(err, &se) {
			return err
		}
	}
	for i, enc := range encs {
		ri := *it
		if i > 0 {
			ri.Path = p + "~" + enc
			// A guessed reading counts only when the body is in it.
			if _, err := io.Copy(io.Discard, decoder(enc, io.NewSectionReader(sp, 0, sp.Size()))); err != nil {
				continue
			}
		}
		if err := w.emit(&ri, decoder(enc, io.NewSectionReader(sp, 0, sp.Size()))); err != nil {
			return err
		}
	}
	return nil
}

// transferEncodings are the readings of a part's body: one for a single
// known Content-Transfer-Encoding (RFC 2045 6.1); for several fields, or
// one no client agrees on, each reading a client might take, and what
// was odd about it. An unknown encoding is read as it is (RFC 2045 6.4:
// "treat as application/octet-stream") and as base64 and
// quoted-printable, the encodings a client that guesses would try.
func transferEncodings(h message.Header) (encs []string, odd string) {
	vals := h.Values("Content-Transfer-Encoding")
	add := func(e string) {
		for _, have := range encs {
			if have == e {
				return
			}
		}
		encs = append(encs, e)
	}
	var unknown []string
	for _, v := range vals {
		switch e := strings.ToLower(strings.TrimSpace(v)); e {
		case "", "7bit", "8bit", "binary":
			add("identity")
		case "base64", "quoted-printable":
			add(e)
		default:
			unknown = append(unknown, v)
			add("identity")
			add("base64")
			add("quoted-printable")
		}
	}
	if len(encs) == 0 {
		encs = []string{"identity"}
	}
	switch {
	case len(unknown) > 0:
		odd = fmt.Sprintf("%q unknown", unknown)
	case len(vals) > 1:
		odd = fmt.Sprintf("given %d times (%s)", len(vals), strings.Join(vals, ", "))
	}
	return encs, odd
}

// decoder decodes a body in one reading of transferEncodings. The
// charset is left alone: the bytes are those a client saves, and a
// program declared text/plain; charset=iso-8859-1 stays a program.
func decoder(enc string, body io.Reader) io.Reader {
	switch enc {
	case "base64":
		return newB64Reader(body)
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// emit spools the item's bytes within the limits, calls fn, then opens
// what is inside it: archives and attached messages, uuencoded and yEnc
// blocks of a text, and, in what was scanned flat, the files carved out
// by their signatures.
func (w *walker) emit(it *Item, body io.Reader) error {
	return w.emitCapped(it, body, -1, "")
}

// emitCapped is emit with a cap of its own on the bytes read (-1: none),
// such as an archive member's expansion ratio; hitting any cap is a limit
// finding that names what was cut, and the item is marked truncated.
func (w *walker) emitCapped(it *Item, body io.Reader, cap int64, why string) error {
	if err := w.stopped(it.Path); err != nil {
		return err
	}
	it.InMessage = w.attached > 0
	sp := spool.New(w.lim.SpoolDir, w.lim.MemoryLimit)
	defer sp.Close()
	keep, what := max(0, min(w.lim.MaxPart, w.lim.MaxTotal-w.total)), "part or message size limit"
	if cap >= 0 && cap < keep {
		keep, what = cap, why
	}
	body = ctxReader{w.ctx, body}
	n, err := io.CopyBuffer(sp, io.LimitReader(body, keep), w.buf)
	w.total += n
	if err != nil {
		var se *spool.Error
		if errors.As(err, &se) {
			return err // our disk, not the sender's MIME: an engine error
		}
		if err := w.stopped(it.Path); err != nil {
			return err
		}
		if re := (*sevenzip.ReadError)(nil); errors.As(err, &re) && re.Encrypted {
			// A 7z member reads as garbage without its password.
			it.Encrypted = true
			w.find("encrypted", it.Path, "encrypted 7z member")
		} else {
			it.Malformed = true
			w.find("malformed", it.Path, "decoding: %v", err)
		}
	}
	if n == keep {
		if extra, _ := io.ReadFull(body, w.buf[:1]); extra > 0 {
			it.Truncated = true
			w.find("limit", it.Path, "truncated: only the first %d bytes scanned (%s)", keep, what)
		}
	}
	it.Data = sp
	it.FileType = Sniff(sp, sp.Size())
	if it.DepthLimited {
		it.Names = append(it.Names, flatNames(io.NewSectionReader(sp, 0, sp.Size()))...)
		it.IsAttachment = len(it.Names) > 0
	}
	if it.Filename == "" && len(it.Names) > 0 {
		it.Filename = it.Names[0]
	}
	if it.Filename != "" && len(it.Names) == 0 {
		it.Names = []string{it.Filename}
	}
	if err := w.fn(it); err != nil {
		return err
	}
	if it.DepthLimited {
		if err := w.carve(it); err != nil {
			return err
		}
		// A uuencoded or yEnc file past a limit is still a file: the
		// text parts there are not walked, but their blocks are decoded.
		if err := w.textBlocks(it); err != nil {
			return err
		}
		return w.flatQP(it)
	}
	if err := w.archive(it); err != nil {
		return err
	}
	if it.FileType == TypeOLE {
		// An OLE2 file keeps its streams in sectors: an embedded
		// program (a Package object, an OLE object in a .docx) lies in
		// it whole, and a double click on its icon runs it.
		if err := w.carve(it); err != nil {
			return err
		}
	}
	if it.FileType == TypeHTML {
		if err := w.htmlData(it); err != nil {
			return err
		}
	}
	if it.FileType == "" || it.FileType == TypeHTML || it.FileType == TypeEML {
		return w.textBlocks(it)
	}
	return nil
}

// carve scans each file cut out of a flat item by its signature as an
// item of its own, with its true type: past a limit a program is still a
// program.
func (w *walker) carve(it *Item) error {
	for _, c := range carve(it.Data, it.Data.Size(), w.lim.MaxMembers) {
		ci := &Item{
			Path: fmt.Sprintf("%s@%d", it.Path, c.Off), PartPath: it.PartPath, ArchivePath: it.ArchivePath,
			ContentType: "application/octet-stream", Depth: it.Depth, IsAttachment: true, Carved: true,
		}
		if err := w.emit(ci, io.NewSectionReader(it.Data, c.Off, c.Size)); err != nil {
			return err
		}
	}
	return nil
}

// flatQP scans a flat item that holds quoted-printable parts once more,
// decoded (lenientQP), and carves that too: an HTML page or a script in
// quoted-printable past a limit is then seen as its recipient sees it.
func (w *walker) flatQP(it *Item) error {
	if strings.HasSuffix(it.Path, "~qp") || scanFor(it.Data, it.Data.Size(), 0, []byte("uoted-printable"), func(at int64) int64 { return at + 1 }) == 0 {
		return nil
	}
	qi := *it
	qi.Path, qi.Data, qi.FileType = it.Path+"~qp", nil, ""
	return w.emit(&qi, lenientQP(io.NewSectionReader(it.Data, 0, it.Data.Size())))
}

// htmlData scans the files an HTML page carries in itself, as HTML
// smuggling does: data: URIs and long base64 strings (for atob and Blob),
// each decoded as an item.
func (w *walker) htmlData(it *Item) error {
	// What is not looked at is said (a limit finding), never passed as
	// scanned: decoys first would otherwise push the payload past the cap.
	if it.Data.Size() > htmlPageMax {
		w.find("limit", it.Path, "HTML page over %d MiB: embedded files past that not looked for", htmlPageMax>>20)
	}
	files := htmlBase64(io.NewSectionReader(it.Data, 0, it.Data.Size()), w.lim.MaxMembers)
	if len(files) >= w.lim.MaxMembers {
		w.find("limit", it.Path, "HTML page carries %d embedded files: any past them not scanned", len(files))
	}
	for i, b := range files {
		mi, _ := w.member(it, fmt.Sprintf("embedded-%d", i+1))
		if err := w.emit(mi, bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

// textBlocks scans each uuencoded or yEnc file in a text as an item named
// by its begin line.
func (w *walker) textBlocks(it *Item) error {
	// Most items have no begin line: one IndexByte-speed pass says so.
	if b, inMem := it.Data.Bytes(); inMem && !bytes.Contains(b, []byte("begin")) ||
		!inMem && scanFor(it.Data, it.Data.Size(), 0, []byte("begin"), func(at int64) int64 { return at + 1 }) == 0 {
		return nil
	}
	return textBlocks(io.NewSectionReader(it.Data, 0, it.Data.Size()), w.lim.MaxPart, func(b block) error {
		mi, ok := w.member(it, b.Name)
		if !ok {
			return nil
		}
		mi.Path = it.Path + "/" + b.Kind + ":" + b.Name
		if b.Cut {
			w.find("malformed", mi.Path, "%s block without its end line, or over the part size limit", b.Kind)
			mi.Malformed = true
		}
		return w.emit(mi, bytes.NewReader(b.Data))
	})
}

// archiveCeiling bounds nesting of archives and attached messages inside
// archives: they are opened past max_depth (each level costs its
// expanded bytes against max_total), but a recursive archive (a zip
// quine) must end somewhere; past this the archive is "unopened".
func (w *walker) archiveCeiling() int { return 4 * w.lim.MaxDepth }

// archive opens what the item's content says it is, as the program a
// recipient opens it with would.
func (w *walker) archive(it *Item) error {
	t := it.FileType
	if t == TypePE || t == TypeELF {
		// A self-extractor is a program with an archive appended: the
		// program is one item; its archive is opened too.
		if zipEnd(it.Data, it.Data.Size()) >= 0 {
			t = TypeZip
		}
	}
	switch t {
	case TypeZip, TypeGzip, TypeBzip2, TypeXZ, TypeTar, Type7z, TypeRAR, TypeISO, TypeCAB, TypeTNEF, TypeEML, TypeActiveMime, TypeVHD, TypeUDF, TypeRTF:
	default:
		return nil
	}
	if it.Depth+1 > w.archiveCeiling() {
		return w.unopened(it, "nested deeper than %d", w.archiveCeiling())
	}
	switch t {
	case TypeZip:
		return w.zip(it)
	case TypeGzip:
		return w.gzip(it)
	case TypeBzip2:
		return w.single(it, "bunzip2", ".bz2", bzip2.NewReader(io.NewSectionReader(w.in(it), 0, it.Data.Size())))
	case TypeXZ:
		d, err := xzMaxDict(it.Data, it.Data.Size())
		if err != nil {
			return w.unopened(it, "xz: %v", err)
		}
		if d > maxDict {
			return w.unopened(it, "xz: a block declares a dictionary of %d MiB (read up to %d MiB)", d>>20, maxDict>>20)
		}
		zr, err := xz.NewReader(io.NewSectionReader(w.in(it), 0, it.Data.Size()))
		if err != nil {
			return w.unopened(it, "xz: %v", err)
		}
		return w.single(it, "unxz", ".xz", zr)
	case TypeTar:
		return w.tar(it, io.NewSectionReader(w.in(it), 0, it.Data.Size()))
	case Type7z:
		return w.sevenZip(it)
	case TypeRAR:
		return w.rar(it)
	case TypeISO:
		// The directory read is ISO 9660's; Windows shows the Joliet
		// tree, which may list other files (genisoimage -hide): the
		// programs in the image are carved out of it as well.
		if err := w.carve(it); err != nil {
			return err
		}
		return w.iso(it)
	case TypeActiveMime:
		return w.activeMime(it)
	case TypeRTF:
		return w.rtfObjects(it)
	case TypeEML:
		if it.ArchivePath == "" && (!it.IsAttachment || strings.HasPrefix(it.ContentType, "message/")) {
			// The header block, a text that starts like one, or an
			// attached message already walked as one. A message
			// attached as a file (fwd.eml, application/octet-stream;
			// a Word MHTML file named .doc) is opened, as clients do.
			return nil
		}
		// A message inside an archive is opened as a mail client opens a
		// saved .eml.
		e, err := readEntity(io.NewSectionReader(it.Data, 0, it.Data.Size()))
		if e == nil {
			w.find("malformed", it.Path, "message: %v", err)
			return nil
		}
		return w.entity(e, it.Path+"/1", it.Depth+1, false)
	}
	// TypeCAB, TypeTNEF, TypeVHD, TypeUDF: no well-kept Go library
	// reads them.
	return w.unopened(it, "archive not opened: %s", t)
}

// unopened notes an archive the walk could not open. A carved one that
// does not open was a signature met by chance in other bytes: no finding.
func (w *walker) unopened(it *Item, format string, args ...any) error {
	if err := w.stopped(it.Path); err != nil {
		return err // the library failed as ctx ended: no fault of the archive
	}
	if it.Carved {
		return nil
	}
	it.Unopened = true
	w.find("unopened", it.Path, format, args...)
	return nil
}

func (w *walker) member(parent *Item, name string) (*Item, bool) {
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
	// Zips one after another: Go's reader, as Windows Explorer, reads
	// the last directory; 7-Zip reads the first. When an end record ends
	// before the item does, what lies up to it is opened as a zip too
	// (carved: a signature met by chance that does not open is no
	// finding).
	if end := nextZipEnd(it.Data, it.Data.Size(), 0); end > 0 && end < it.Data.Size() {
		fi, _ := w.member(it, "zip-1")
		fi.Carved = true
		if err := w.emit(fi, io.NewSectionReader(it.Data, 0, end)); err != nil {
			return err
		}
	}
	zr, err := zip.NewReader(w.in(it), it.Data.Size())
	if err != nil {
		return w.unopened(it, "zip: %v", err)
	}
	// APPNOTE 4.4.5: the methods archivers write besides store and deflate.
	zr.RegisterDecompressor(12, func(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) })
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	for i, f := range files {
		if i >= w.lim.MaxMembers {
			// Past the limit the members are still expanded, into one flat
			// item, and the files in it carved out.
			w.find("limit", it.Path, "zip has more than %d members: members %d on scanned flat", w.lim.MaxMembers, i+1)
			mi, _ := w.member(it, fmt.Sprintf("members-%d+", i+1))
			mi.DepthLimited = true
			for _, f := range files[i:min(len(files), i+w.lim.MaxMembers)] {
				mi.Names = append(mi.Names, path.Base(f.Name)) // a .js has no magic: its name counts
			}
			return w.emit(mi, &zipRest{w: w, zr: zr, files: files[i:]})
		}
		mi, _ := w.member(it, f.Name)
		if f.Flags&1 != 0 { // PKWARE APPNOTE 4.4.4: bit 0, encrypted
			// Every encrypted member is an item, empty, for rules to see.
			mi.Encrypted = true
			// The stored bytes hashed count against max_total: a
			// central directory naming one 8 MiB member a thousand
			// times was 8000 MiB hashed (review r4,
			// TestReviewR4SealCost). Past it, no seal: the archive is
			// keyed by its bytes.
			if n := int64(f.CompressedSize64); n >= 0 && w.total+n <= w.lim.MaxTotal {
				w.total += n
				mi.Sealed = zipSealed(f)
			}
			w.find("encrypted", mi.Path, "encrypted zip member")
			if err := w.emit(mi, bytes.NewReader(nil)); err != nil {
				return err
			}
			continue
		}
		rc, err := w.openZip(zr, f)
		if err != nil {
			mi.Malformed = true
			w.find("malformed", mi.Path, "zip: %v", err)
			if err := w.emit(mi, bytes.NewReader(nil)); err != nil {
				return err
			}
			continue
		}
		// The expansion ratio is enforced on what is read, not on the
		// declared sizes, which can lie: a bomb is scanned up to the ratio.
		err = w.emitCapped(mi, rc, w.ratioCap(int64(f.CompressedSize64)), fmt.Sprintf("expansion ratio over %d: zip bomb?", w.lim.MaxRatio))
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// zipSealed is the digest of f's stored bytes (its encryption header,
// ciphertext and authentication code: what it is without the password),
// "" when they cannot be read (a lying offset, a truncated archive).
func zipSealed(f *zip.File) string {
	r, err := f.OpenRaw()
	if err != nil {
		return ""
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return ""
	}
	return "zip:" + hex.EncodeToString(h.Sum(nil))
}

func (w *walker) ratioCap(compressed int64) int64 { return (compressed + 1) * w.lim.MaxRatio }

// openZip opens a zip member, an LZMA one (method 14) with a dictionary
// no larger than what the walk reads of it (its declared size, the
// ratio to its compressed size): the stream declares up to 4 GiB, which
// github.com/ulikunitz/xz/lzma allocates whole, per member (an 8 KB zip
// of 50 members cost 100 GiB of allocation and 40 s).
func (w *walker) openZip(zr *zip.Reader, f *zip.File) (io.ReadCloser, error) {
	zr.RegisterDecompressor(14, lzmaDecompressor(min(f.UncompressedSize64, uint64(w.ratioCap(int64(f.CompressedSize64))))))
	return f.Open()
}

// zipRest reads the members of a zip past the member limit one after the
// other, each within the expansion ratio: the flat item of those members.
type zipRest struct {
	w     *walker
	zr    *zip.Reader
	files []*zip.File
	cur   io.ReadCloser
}

func (z *zipRest) Read(p []byte) (int, error) {
	for {
		if z.cur == nil {
			if len(z.files) == 0 {
				return 0, io.EOF
			}
			f := z.files[0]
			z.files = z.files[1:]
			if f.Flags&1 != 0 {
				continue
			}
			rc, err := z.w.openZip(z.zr, f)
			if err != nil {
				continue
			}
			z.cur = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(io.LimitReader(rc, z.w.ratioCap(int64(f.CompressedSize64))), strings.NewReader("\n")), rc}
		}
		n, err := z.cur.Read(p)
		if err != nil {
			z.cur.Close()
			z.cur = nil
			err = nil
		}
		if n > 0 {
			return n, nil
		}
	}
}

// lzmaDecompressor reads APPNOTE 5.8.8 LZMA: a 2-byte version, a 2-byte
// properties size, the 5 bytes of properties, then the raw stream
// (ending with an end marker, or at the member's size). It is given to
// ulikunitz/xz/lzma as a .lzma stream of unknown size, with a dictionary
// of at most size bytes (coderDict).
func lzmaDecompressor(size uint64) func(io.Reader) io.ReadCloser {
	return func(r io.Reader) io.ReadCloser {
		var h [9]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return io.NopCloser(errReader{err})
		}
		if h[2] != 5 || h[3] != 0 {
			return io.NopCloser(errReader{fmt.Errorf("lzma: properties size %d", int(h[2])|int(h[3])<<8)})
		}
		binary.LittleEndian.PutUint32(h[5:], uint32(coderDict(uint64(binary.LittleEndian.Uint32(h[5:])), size)))
		hdr := append(append([]byte{}, h[4:9]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		lr, err := lzma.NewReader(io.MultiReader(bytes.NewReader(hdr), r))
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return io.NopCloser(lr)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (w *walker) gzip(it *Item) error {
	zr, err := gzip.NewReader(io.NewSectionReader(w.in(it), 0, it.Data.Size()))
	if err != nil {
		return w.unopened(it, "gzip: %v", err)
	}
	defer zr.Close()
	if zr.Name != "" {
		return w.singleNamed(it, zr.Name, zr)
	}
	return w.single(it, "gunzipped", ".gz", zr)
}

// single scans the one file of a gzip, bzip2 or xz file: named as the
// archive without its suffix, within the expansion ratio.
func (w *walker) single(it *Item, dflt, suffix string, r io.Reader) error {
	name := strings.TrimSuffix(it.Filename, suffix)
	if suffix == ".gz" {
		name = strings.TrimSuffix(name, ".tgz")
	}
	if name == "" || name == it.Filename {
		name = dflt
	}
	return w.singleNamed(it, name, r)
}

func (w *walker) singleNamed(it *Item, name string, r io.Reader) error {
	mi, _ := w.member(it, name)
	return w.emitCapped(mi, r, w.ratioCap(it.Data.Size()), fmt.Sprintf("expansion ratio over %d: decompression bomb?", w.lim.MaxRatio))
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
			return w.unopened(it, "tar members past %d not read", w.lim.MaxMembers)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		mi, _ := w.member(it, h.Name)
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
			// The part's header fields too: the names they declare count
			// (flatNames).
			var h bytes.Buffer
			textproto.WriteHeader(&h, r.part.Header.Header)
			encs, _ := transferEncodings(r.part.Header)
			r.cur = io.MultiReader(&h, flatDecoder(decoder(encs[0], r.part.Body)), strings.NewReader("\n"))
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
