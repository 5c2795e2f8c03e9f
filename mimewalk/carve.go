package mimewalk

import (
	"bytes"
	"encoding/binary"
	"io"
)

// carved is an embedded file found by its signature inside a flat run.
type carved struct {
	Type      string
	Off, Size int64
}

// carveWindow is how much is read at a time; signatures straddling two
// windows are found because windows overlap by carveOverlap.
const (
	carveWindow  = 1 << 20
	carveOverlap = 0x200
)

// carve finds embedded files in r (size bytes) by their signatures, the
// way an analyst or a forensic carver does (foremost, binwalk): a PE (MZ
// whose e_lfanew points at "PE\0\0"), an ELF, a zip (its first local
// header, up to its end record), an OLE2 file, a RAR or 7z archive, an
// HTML document (to its </html>), a gzip, bzip2 or xz stream. Each runs to the end of r unless its
// format says where it ends. At most max are returned.
func carve(r io.ReaderAt, size int64, max int) []carved {
	var out []carved
	buf := make([]byte, min(size, carveWindow+carveOverlap))
	for base := int64(0); base < size && len(out) < max; base += carveWindow {
		n, _ := r.ReadAt(buf[:min(int64(len(buf)), size-base)], base)
		win := buf[:n]
		for i := 0; i < n && i < carveWindow && len(out) < max; {
			j := indexAnySig(win[i:])
			if j < 0 || i+j >= carveWindow {
				break
			}
			i += j
			off := base + int64(i)
			if c, ok := carveAt(r, size, off); ok && off > 0 {
				out = append(out, c)
			}
			i++
		}
	}
	return out
}

// indexAnySig is the first offset where a signature's first byte could
// start: one IndexAny over the rare lead bytes.
func indexAnySig(b []byte) int {
	return bytes.IndexAny(b, "MP\x7f\xd0R7<#\x1fB\xfd")
}

func carveAt(r io.ReaderAt, size, off int64) (carved, bool) {
	var h [0x400]byte
	n, _ := r.ReadAt(h[:], off)
	b := h[:n]
	switch {
	case len(b) >= 0x40 && b[0] == 'M' && b[1] == 'Z':
		e := int64(binary.LittleEndian.Uint32(b[0x3C:]))
		var sig [4]byte
		if e >= 0x40 && e < 1<<20 && off+e+4 <= size {
			if m, _ := r.ReadAt(sig[:], off+e); m == 4 && string(sig[:]) == "PE\x00\x00" {
				return carved{TypePE, off, size - off}, true
			}
		}
	case bytes.HasPrefix(b, []byte("\x7fELF\x01")) || bytes.HasPrefix(b, []byte("\x7fELF\x02")):
		return carved{TypeELF, off, size - off}, true
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		// The zip runs to the end of the first end record after it.
		if end := nextZipEnd(r, size, off); end > 0 {
			return carved{TypeZip, off, end - off}, true
		}
	case bytes.HasPrefix(b, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return carved{TypeOLE, off, size - off}, true
	case len(b) >= 10 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 && b[3]&0xe0 == 0 && (b[9] <= 13 || b[9] == 255):
		// RFC 1952 2.3: deflate, no reserved flag, a known OS.
		return carved{TypeGzip, off, size - off}, true
	case len(b) >= 10 && string(b[:3]) == "BZh" && b[3] >= '1' && b[3] <= '9' && string(b[4:10]) == "1AY&SY":
		return carved{TypeBzip2, off, size - off}, true
	case bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")):
		return carved{TypeXZ, off, size - off}, true
	case bytes.HasPrefix(b, []byte("Rar!\x1a\x07")):
		return carved{TypeRAR, off, size - off}, true
	case bytes.HasPrefix(b, []byte("7z\xbc\xaf\x27\x1c")):
		return carved{Type7z, off, size - off}, true
	case bytes.HasPrefix(b, []byte("#!/")):
		// A script starts a line; it runs to the end of its part's text,
		// which a flat run does not mark: to the next boundary-like line.
		if off > 0 {
			var prev [1]byte
			if r.ReadAt(prev[:], off-1); prev[0] == '\n' {
				return carved{TypeScript, off, scriptEnd(r, size, off) - off}, true
			}
		}
	case b[0] == '<' && isHTML(b):
		if bytes.HasPrefix(bytes.ToLower(b), []byte("<html")) || bytes.HasPrefix(bytes.ToLower(b), []byte("<!doctype html")) {
			return carved{TypeHTML, off, htmlEnd(r, size, off) - off}, true
		}
	}
	return carved{}, false
}

// nextZipEnd is the offset just past the first end-of-central-directory
// record (with its comment) at or after off, 0 if none.
func nextZipEnd(r io.ReaderAt, size, off int64) int64 {
	return scanFor(r, size, off, []byte("PK\x05\x06"), func(at int64) int64 {
		var rec [22]byte
		if n, _ := r.ReadAt(rec[:], at); n < 22 {
			return 0
		}
		return min(size, at+22+int64(binary.LittleEndian.Uint16(rec[20:])))
	})
}

// htmlEnd is the offset past the first </html> at or after off, or size.
func htmlEnd(r io.ReaderAt, size, off int64) int64 {
	if end := scanFor(r, size, off, []byte("</html>"), func(at int64) int64 { return at + 7 }); end > 0 {
		return end
	}
	if end := scanFor(r, size, off, []byte("</HTML>"), func(at int64) int64 { return at + 7 }); end > 0 {
		return end
	}
	return size
}

// scanFor finds sig at or after off and returns what end makes of its
// offset, 0 when sig does not occur.
func scanFor(r io.ReaderAt, size, off int64, sig []byte, end func(int64) int64) int64 {
	buf := make([]byte, 64<<10)
	for pos := off; pos < size; pos += int64(len(buf) - len(sig)) {
		n, _ := r.ReadAt(buf, pos)
		if i := bytes.Index(buf[:n], sig); i >= 0 {
			return end(pos + int64(i))
		}
		if int64(n) < int64(len(buf)) {
			break
		}
	}
	return 0
}

// scriptEnd is the offset of the first "\n--" (a MIME boundary) after
// off, or size.
func scriptEnd(r io.ReaderAt, size, off int64) int64 {
	if end := scanFor(r, size, off, []byte("\n--"), func(at int64) int64 { return at + 1 }); end > 0 {
		return end
	}
	return size
}
