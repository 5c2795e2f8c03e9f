package mimewalk

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
)

// File types by content (magic numbers), whatever the name or the
// declared Content-Type says: the external file_type of every item.
const (
	TypePE     = "pe"    // Windows program or DLL: MZ with a PE header at e_lfanew
	TypeELF    = "elf"   // Linux/Unix program
	TypeMachO  = "macho" // macOS program
	TypeScript = "script"
	TypeZip    = "zip"
	TypeOLE    = "ole" // OLE2 compound file: .doc .xls .ppt .msi, macros
	TypePDF    = "pdf"
	TypeHTML   = "html"
	TypeRAR    = "rar"
	Type7z     = "7z"
	TypeISO    = "iso"
	TypeCAB    = "cab"
	TypeGzip   = "gzip"
	TypeBzip2  = "bzip2"
	TypeXZ     = "xz"
	TypeTar    = "tar"
	TypeEML    = "eml"  // an Internet message (RFC 5322 header first)
	TypeTNEF   = "tnef" // Outlook's winmail.dat, which Outlook opens
	// An MSO ActiveMime blob (editdata.mso of a Word document saved as
	// MHTML or 2003 XML): a zlib-compressed OLE file, macros and all.
	TypeActiveMime = "activemime"
	TypeVHD        = "vhd" // a virtual disk (VHD, VHDX): Windows mounts it on a double click
	TypeUDF        = "udf" // a UDF image without an ISO 9660 tree
	TypeRTF        = "rtf" // Word opens it, and the objects in it (hex in \objdata)
)

// sniffLen is what the first bytes' checks need (tar's magic at 257, a
// PE header's e_lfanew within it, PDF's header anywhere in the first
// 1024); the ISO 9660 volume descriptor at 0x8001 is read on its own.
const sniffLen = 1024

// Sniff names the type of the content of r (size bytes), "" when none of
// the types above: the first bytes decide, as the program or archiver
// that opens the file decides; a zip is also found by its end record,
// wherever its first entry lies (a self-extractor, junk before it).
func Sniff(r io.ReaderAt, size int64) string {
	head := make([]byte, min(size, sniffLen))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if t := sniffHead(head); t != "" {
		return t
	}
	var vd [5]byte
	if n, _ := r.ReadAt(vd[:], 0x8001); n == 5 && string(vd[:]) == "CD001" {
		return TypeISO
	}
	if n, _ := r.ReadAt(vd[:], 0x8001); n == 5 && (string(vd[:]) == "BEA01" || string(vd[:]) == "NSR02" || string(vd[:]) == "NSR03") {
		return TypeUDF // ECMA-167 2/9.1: the volume recognition sequence
	}
	var footer [8]byte
	if n, _ := r.ReadAt(footer[:], size-512); n == 8 && string(footer[:]) == "conectix" {
		return TypeVHD // a fixed VHD: the footer alone
	}
	if zipEnd(r, size) >= 0 {
		return TypeZip
	}
	return ""
}

func sniffHead(b []byte) string {
	le32 := func(off int) uint32 {
		if off < 0 || len(b) < off+4 {
			return 0
		}
		return binary.LittleEndian.Uint32(b[off:])
	}
	switch {
	case len(b) >= 0x40 && b[0] == 'M' && b[1] == 'Z' && isPE(b):
		return TypePE
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return TypeELF
	case le32(0) == 0xFEEDFACE || le32(0) == 0xFEEDFACF || le32(0) == 0xCEFAEDFE || le32(0) == 0xCFFAEDFE:
		return TypeMachO
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return TypeZip
	case bytes.HasPrefix(b, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return TypeOLE
	case bytes.HasPrefix(b, []byte("Rar!\x1a\x07")):
		return TypeRAR
	case bytes.HasPrefix(b, []byte("7z\xbc\xaf\x27\x1c")):
		return Type7z
	case bytes.HasPrefix(b, []byte("MSCF\x00\x00\x00\x00")):
		return TypeCAB
	case bytes.HasPrefix(b, []byte{0x78, 0x9f, 0x3e, 0x22}): // MS-OXTNEF 2.1.3.1
		return TypeTNEF
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return TypeGzip
	case bytes.HasPrefix(b, []byte("BZh")) && len(b) > 3 && b[3] >= '1' && b[3] <= '9':
		return TypeBzip2
	case bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")):
		return TypeXZ
	case len(b) >= 262 && string(b[257:262]) == "ustar":
		return TypeTar
	case bytes.HasPrefix(b, []byte("#!")):
		return TypeScript
	case bytes.HasPrefix(b, []byte("{\\rt")): // Word reads "{\rt" as RTF, whatever follows
		return TypeRTF
	case bytes.HasPrefix(b, []byte("ActiveMime")):
		return TypeActiveMime
	case bytes.HasPrefix(b, []byte("conectix")), bytes.HasPrefix(b, []byte("vhdxfile")):
		return TypeVHD // a dynamic VHD's footer copy, a VHDX's identifier
	}
	// PDF readers accept the header anywhere in the first 1024 bytes.
	if bytes.Contains(b[:min(len(b), 1024)], []byte("%PDF-")) {
		return TypePDF
	}
	if isHTML(b) {
		return TypeHTML
	}
	if isMessage(b) {
		return TypeEML
	}
	return ""
}

// isPE: e_lfanew (at 0x3C) points at "PE\0\0" inside the file.
func isPE(b []byte) bool {
	off := int(binary.LittleEndian.Uint32(b[0x3C:]))
	return off >= 0x40 && off+4 <= len(b) && string(b[off:off+4]) == "PE\x00\x00"
}

var htmlStarts = [][]byte{[]byte("<!doctype html"), []byte("<html"), []byte("<head"), []byte("<body"), []byte("<form"), []byte("<script"), []byte("<iframe"), []byte("<meta")}

// isHTML: what a browser sniffs as HTML (WHATWG MIME Sniffing 7.1: after
// white space and a BOM, one of the tags that start a document).
func isHTML(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n\f")
	if len(b) > 64 {
		b = b[:64]
	}
	low := bytes.ToLower(b)
	for _, s := range htmlStarts {
		if bytes.HasPrefix(low, s) {
			return true
		}
	}
	return false
}

// isMessage: starts with header fields a mail has (RFC 5322 3.6), one
// of which names a mailbox or the MIME version.
func isMessage(b []byte) bool {
	b = b[:min(len(b), 4096)]
	lines := bytes.SplitN(b, []byte("\n"), 32)
	seen := 0
	for i, l := range lines {
		l = bytes.TrimRight(l, "\r")
		if len(l) == 0 {
			return seen >= 2 && i > 0
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue
		}
		k, _, ok := bytes.Cut(l, []byte(":"))
		if !ok || len(k) == 0 || bytes.ContainsAny(k, " \t") {
			return false
		}
		switch string(bytes.ToLower(k)) {
		case "from", "to", "subject", "date", "message-id", "mime-version", "received", "return-path", "content-type":
			seen++
		}
	}
	return seen >= 2
}

// tailBufs keep zipEnd from allocating 64 KiB per item.
var tailBufs = sync.Pool{New: func() any { return new([65535 + 22]byte) }}

// zipEnd is the offset of a zip's end-of-central-directory record in the
// last 64 KiB (APPNOTE 4.3.16: the comment is at most 65535 bytes), -1
// when there is none.
func zipEnd(r io.ReaderAt, size int64) int64 {
	// As Go's archive/zip: the last 1 KiB first (a zip without a long
	// comment), then the whole 64 KiB.
	// An item within 64 KiB is read once, whole (issue #32: most items
	// of ordinary mail are).
	buf := tailBufs.Get().(*[65535 + 22]byte)
	defer tailBufs.Put(buf)
	passes := []int64{min(size, 65535+22)}
	if size > 65535+22 {
		passes = []int64{1024, 65535 + 22}
	}
	for _, n := range passes {
		tail := buf[:n]
		if m, _ := r.ReadAt(tail, size-n); int64(m) != n {
			return -1
		}
		// The signatures are found forward, by bytes.Index (vectorised;
		// bytes.LastIndex is not: it was 3 % of milterd's CPU on clean
		// 10 KiB mail), then tried from the last: the record nearest the
		// end wins.
		var first [16]int
		at := first[:0]
		for i := 0; ; {
			k := bytes.Index(tail[i:], []byte("PK\x05\x06"))
			if k < 0 {
				break
			}
			at = append(at, i+k)
			i += k + 1
		}
		for c := len(at) - 1; c >= 0; c-- {
			if i := at[c]; endRecord(tail[i:], size-n+int64(i)) {
				return size - n + int64(i)
			}
		}
	}
	return -1
}

// endRecord: rec (from its signature on) reads as an end-of-central-
// directory record at offset at (APPNOTE 4.3.16): whole, as many entries
// on this disk as in all, and a directory that ends before it. The four
// bytes alone also occur by chance in a text or a compressed stream, and
// an item taken for a zip that does not open is held as unopened.
func endRecord(rec []byte, at int64) bool {
	if len(rec) < 22 {
		return false
	}
	le16 := func(o int) int64 { return int64(binary.LittleEndian.Uint16(rec[o:])) }
	le32 := func(o int) int64 { return int64(binary.LittleEndian.Uint32(rec[o:])) }
	if le32(16) == 0xFFFFFFFF || le16(10) == 0xFFFF {
		return true // zip64: the real values are in the zip64 end record
	}
	return le16(8) == le16(10) && le32(12)+le32(16) <= at
}
