package mimewalk

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/bodgit/sevenzip"
	"github.com/kdomanski/iso9660"
	"github.com/nwaples/rardecode/v2"
)

// Archive formats beyond zip, gzip and tar, each opened with a
// well-kept library: 7z with github.com/bodgit/sevenzip, RAR (4 and 5)
// with github.com/nwaples/rardecode/v2, ISO 9660 images (.iso, .img)
// with github.com/kdomanski/iso9660. A member's expansion is bounded by
// the ratio to the whole archive's size (7z and RAR compress solid
// blocks, so a member has no compressed size of its own), every member
// counts against max_total, and at most max_members are read: past it,
// the rest is "unopened".

func (w *walker) sevenZip(it *Item) error {
	cipher, err := sevenZipCiphered(it.Data, it.Data.Size())
	if re := (*sevenzip.ReadError)(nil); errors.As(err, &re) && re.Encrypted {
		// Names and all encrypted (7z -mhe): one empty item says so.
		mi, _ := w.member(it, "encrypted")
		return w.encrypted(mi, "7z archive with encrypted headers")
	}
	if err != nil {
		return w.unopened(it, "archive not opened: 7z: %v", err)
	}
	// A member deep in a solid folder is reached by decoding every
	// member before it, inside the library, with no output read in
	// between: only its reads of the packed bytes can see ctx. It reads
	// them through a 4 KiB bufio.Reader, which would be 30 MiB of zeros
	// decoded between two looks; in 1 KiB pieces, which bufio and
	// io.ReadFull take (its one direct ReadAt looks for the signature,
	// met at offset 0), it is some 7 MiB.
	zr, err := sevenzip.NewReader(ctxReaderAt{ctx: w.ctx, r: it.Data, piece: 1 << 10}, it.Data.Size())
	if err != nil {
		return w.unopened(it, "archive not opened: 7z: %v", err)
	}
	// Reaching a member of a solid folder decodes every member before
	// it, read or not (a member is read only up to the ratio): the
	// declared sizes of the members so far, which bound what the
	// library decodes, are spent against the ratio to the archive's
	// size, and the members past it are not read.
	budget, spent := w.ratioCap(it.Data.Size()), int64(0)
	n := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if n++; n > w.lim.MaxMembers {
			w.find("limit", it.Path, "7z has more than %d members", w.lim.MaxMembers)
			return w.unopened(it, "7z members past %d not read", w.lim.MaxMembers)
		}
		if spent > budget {
			w.find("limit", it.Path, "7z members expand past %d times its size: member %d on not read (7z bomb?)", w.lim.MaxRatio, n)
			return w.unopened(it, "7z members past an expansion of %d not read", w.lim.MaxRatio)
		}
		if f.UncompressedSize > uint64(budget-spent) {
			spent = budget + 1
		} else {
			spent += int64(f.UncompressedSize)
		}
		mi, _ := w.member(it, f.Name)
		rc, err := io.ReadCloser(nil), error(nil)
		if f.UncompressedSize > 0 && cipher[f.Stream] {
			// Never decoded: without the password it is noise. The
			// header's CRC-32 and size of the plaintext name it (7z's
			// folders give no member's stored bytes of its own).
			mi.Encrypted = true
			if f.CRC32 != 0 {
				mi.Sealed = fmt.Sprintf("7z:%08x:%d", f.CRC32, f.UncompressedSize)
			}
			w.find("encrypted", mi.Path, "encrypted 7z member")
		} else if rc, err = f.Open(); err != nil {
			if re := (*sevenzip.ReadError)(nil); errors.As(err, &re) && re.Encrypted {
				mi.Encrypted = true
				w.find("encrypted", mi.Path, "encrypted 7z member")
			} else {
				mi.Malformed = true
				w.find("malformed", mi.Path, "7z: %v", err)
			}
		}
		if rc == nil {
			if err := w.emit(mi, strings.NewReader("")); err != nil {
				return err
			}
			continue
		}
		err = w.emitCapped(mi, rc, w.ratioCap(it.Data.Size()), fmt.Sprintf("expansion ratio over %d: 7z bomb?", w.lim.MaxRatio))
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// encrypted emits mi, an archive member the walk cannot decrypt, empty,
// for the rules' "encrypted".
func (w *walker) encrypted(mi *Item, what string) error {
	mi.Encrypted = true
	w.find("encrypted", mi.Path, "%s", what)
	return w.emit(mi, strings.NewReader(""))
}

// sevenZipCiphered returns the 7z streams (sevenzip.File.Stream) whose
// coders include a cipher (7zAES), from the archive's header, not from
// what the packed bytes decode to. 7z has no password check: decrypted
// with no or the wrong key, a stream is noise that its decompressor
// may take without an error (stored, -m0=copy: always; an LZMA2 stream
// whose first byte comes out 0x00 ends empty: 1 archive in 256), so the
// member read as an unencrypted file, depending on the archive's random
// salt and IV. github.com/bodgit/sevenzip tells of a cipher only with an error
// (ReadError.Encrypted): each stream's first bytes are read from a
// reader that fails once the headers are parsed, and the error says
// whether the stream's coders include one (the library builds the
// coder reading the packed bytes, 7zAES in what 7-Zip writes, before any
// is read). An encrypted header (-mhe) is the error of this function.
func sevenZipCiphered(r io.ReaderAt, size int64) (map[int]bool, error) {
	pr := &cutReaderAt{r: r}
	zr, err := sevenzip.NewReader(pr, size)
	if err != nil {
		return nil, err
	}
	pr.cut = true
	cipher := map[int]bool{}
	probed := map[int]bool{}
	for _, f := range zr.File {
		if f.UncompressedSize == 0 || probed[f.Stream] {
			continue // an empty file has no stream
		}
		probed[f.Stream] = true
		rc, err := f.Open()
		if err == nil {
			_, err = io.ReadFull(rc, make([]byte, 1))
			rc.Close()
		}
		re := (*sevenzip.ReadError)(nil)
		cipher[f.Stream] = errors.As(err, &re) && re.Encrypted
	}
	return cipher, nil
}

// cutReaderAt reads r until cut, then fails every read.
type cutReaderAt struct {
	r   io.ReaderAt
	cut bool
}

var errCut = errors.New("not read: probing the coders")

func (c *cutReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.cut {
		return 0, errCut
	}
	return c.r.ReadAt(p, off)
}

func (w *walker) rar(it *Item) error {
	rr, err := rardecode.NewReader(io.NewSectionReader(w.in(it), 0, it.Data.Size()))
	if err != nil {
		return w.unopened(it, "archive not opened: rar: %v", err)
	}
	for n := 0; ; {
		h, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, rardecode.ErrArchiveEncrypted) || errors.Is(err, rardecode.ErrArchivedFileEncrypted) {
				w.find("encrypted", it.Path, "encrypted RAR archive")
				mi, _ := w.member(it, "encrypted")
				mi.Encrypted = true
				return w.emit(mi, strings.NewReader(""))
			}
			return w.unopened(it, "rar: %v", err)
		}
		if h.IsDir {
			continue
		}
		if n++; n > w.lim.MaxMembers {
			w.find("limit", it.Path, "RAR has more than %d members", w.lim.MaxMembers)
			return w.unopened(it, "RAR members past %d not read", w.lim.MaxMembers)
		}
		mi, _ := w.member(it, h.Name)
		if h.Encrypted {
			// rar -p without -hp: the names read, the data does not
			// (rardecode's read error is no malformed MIME).
			if err := w.encrypted(mi, "encrypted RAR member"); err != nil {
				return err
			}
			continue
		}
		if err := w.emitCapped(mi, rr, w.ratioCap(it.Data.Size()), fmt.Sprintf("expansion ratio over %d: RAR bomb?", w.lim.MaxRatio)); err != nil {
			return err
		}
	}
}

func (w *walker) iso(it *Item) error {
	img, err := iso9660.OpenImage(w.in(it))
	if err != nil {
		return w.unopened(it, "archive not opened: iso: %v", err)
	}
	root, err := img.RootDir()
	if err != nil {
		return w.unopened(it, "archive not opened: iso: %v", err)
	}
	n := 0
	var walk func(dir *iso9660.File, prefix string, level int) error
	walk = func(dir *iso9660.File, prefix string, level int) error {
		if level > w.archiveCeiling() {
			return w.unopened(it, "iso directories nested deeper than %d", w.archiveCeiling())
		}
		kids, err := dir.GetChildren()
		if err != nil {
			w.find("malformed", it.Path, "iso: %v", err)
			return nil
		}
		for _, k := range kids {
			name := path.Join(prefix, k.Name())
			if k.IsDir() {
				if err := walk(k, name, level+1); err != nil {
					return err
				}
				continue
			}
			if n++; n > w.lim.MaxMembers {
				w.find("limit", it.Path, "ISO image has more than %d files", w.lim.MaxMembers)
				return w.unopened(it, "ISO files past %d not read", w.lim.MaxMembers)
			}
			mi, _ := w.member(it, name)
			if err := w.emit(mi, k.Reader()); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, "", 0)
}

// activeMime opens an MSO ActiveMime blob (a Word MHTML or 2003 XML
// document's editdata.mso, which Word runs the macros of): the zlib
// stream at the offset its header gives (uint16 at 0x1E, plus 46), else
// where Word (0x32) and Excel (0x22A) put it, as oletools' olevba reads
// it.
func (w *walker) activeMime(it *Item) error {
	var h [0x20]byte
	it.Data.ReadAt(h[:], 0)
	for _, off := range []int64{int64(binary.LittleEndian.Uint16(h[0x1E:])) + 46, 0x32, 0x22A} {
		if off >= it.Data.Size() {
			continue
		}
		zr, err := zlib.NewReader(io.NewSectionReader(w.in(it), off, it.Data.Size()-off))
		if err != nil {
			continue
		}
		defer zr.Close()
		return w.singleNamed(it, "editdata.ole", zr)
	}
	return w.unopened(it, "archive not opened: activemime: no zlib stream")
}

// rtfObjects scans the objects of an RTF document (an OLE Package, an
// OLE2 file: Word shows their icons and runs them on a double click),
// which RTF carries as hex digits in \objdata groups: each decoded as an
// item, and the files in it carved out by their signatures. As Word, the
// decoder skips white space, control words and nested groups (and what
// they hold) inside the hex, which droppers sprinkle there.
func (w *walker) rtfObjects(it *Item) error {
	br := bufio.NewReader(io.NewSectionReader(it.Data, 0, it.Data.Size()))
	sig := []byte("\\objdata")
	var tail []byte
	for n := 0; n < w.lim.MaxMembers; {
		c, err := br.ReadByte()
		if err != nil {
			return nil
		}
		tail = append(tail, c)
		if len(tail) > len(sig) {
			tail = tail[1:]
		}
		if !bytes.Equal(tail, sig) {
			continue
		}
		n++
		mi, _ := w.member(it, fmt.Sprintf("object-%d", n))
		// Scanned as a flat run is (depth_limited): the OLE1 wrapper
		// has no structure the walk opens, the files in it are carved.
		mi.DepthLimited = true
		if err := w.emit(mi, bytes.NewReader(rtfHex(br, w.lim.MaxPart))); err != nil {
			return err
		}
	}
	return nil
}

// rtfHex decodes the hex digits of an \objdata group, up to the group's
// end, at most max bytes.
func rtfHex(br *bufio.Reader, max int64) []byte {
	var out []byte
	depth, hi, half := 0, byte(0), false
	for int64(len(out)) < max {
		c, err := br.ReadByte()
		if err != nil {
			break
		}
		switch {
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return out
			}
			depth--
		case c == '\\':
			// A control word: letters, an optional number, one space.
			for {
				d, err := br.ReadByte()
				if err != nil {
					return out
				}
				if !(d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d == '-' || d >= '0' && d <= '9') {
					if d != ' ' {
						br.UnreadByte()
					}
					break
				}
			}
		case depth > 0:
			// Inside a nested group ({\\*\\xyz 99}): Word skips it.
		default:
			var v byte
			switch {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v = c - 'A' + 10
			default:
				continue
			}
			if half {
				out = append(out, hi<<4|v)
			} else {
				hi = v
			}
			half = !half
		}
	}
	return out
}
