package mimewalk

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/internal/mailcorpus"
)

// walkAll walks msg and returns its items' paths, types, names and bytes.
type seen struct {
	Path, Type string
	Names      []string
	Data       []byte
	Item       Item
}

func walkAll(t testing.TB, msg []byte, lim Limits) ([]seen, []Anomaly) {
	t.Helper()
	var out []seen
	f, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), lim, func(it *Item) error {
		b, err := io.ReadAll(io.NewSectionReader(it.Data, 0, it.Data.Size()))
		if err != nil {
			return err
		}
		out = append(out, seen{it.Path, it.FileType, it.Names, b, *it})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, f
}

func find(items []seen, typ string) *seen {
	for i := range items {
		if items[i].Type == typ {
			return &items[i]
		}
	}
	return nil
}

func TestSniff(t *testing.T) {
	pe := mailcorpus.PE()
	for _, c := range []struct {
		data []byte
		want string
	}{
		{pe, TypePE},
		{append([]byte("MZ"), make([]byte, 100)...), ""}, // MZ alone is no program
		{[]byte("\x7fELF\x02\x01\x01"), TypeELF},
		{[]byte("\xcf\xfa\xed\xfe\x07"), TypeMachO},
		{mailcorpus.Zip(mailcorpus.Member{Name: "a", Data: []byte("x")}), TypeZip},
		{append([]byte("JUNK"), mailcorpus.Zip(mailcorpus.Member{Name: "a", Data: []byte("x")})...), TypeZip},
		{[]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), TypeOLE},
		{mailcorpus.PDF(), TypePDF},
		{[]byte("\r\n  <!DOCTYPE HTML><p>"), TypeHTML},
		{[]byte("Rar!\x1a\x07\x01\x00"), TypeRAR},
		{mailcorpus.SevenZip("a.txt", []byte("x")), Type7z},
		{mailcorpus.CAB(nil), TypeCAB},
		{mailcorpus.Gzip("a", nil), TypeGzip},
		{mailcorpus.Bzip2([]byte("x")), TypeBzip2},
		{mailcorpus.XZ([]byte("x")), TypeXZ},
		{mailcorpus.ISO("A.TXT", []byte("x")), TypeISO},
		{[]byte("#!/usr/bin/python3\n"), TypeScript},
		{[]byte("From: a@b\r\nSubject: x\r\n\r\nbody"), TypeEML},
		{[]byte("Dear Bob,\r\nSubject: the meeting\r\n"), ""},
		{[]byte("plain words"), ""},
	} {
		if got := Sniff(bytes.NewReader(c.data), int64(len(c.data))); got != c.want {
			t.Errorf("%q: %q, want %q", c.data[:min(len(c.data), 16)], got, c.want)
		}
	}
}

func TestTextBlocks(t *testing.T) {
	pe := mailcorpus.PE()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	text := "hello\r\n" + mailcorpus.UUEncode("a.exe", pe) + "between\r\n" + mailcorpus.YEnc("b.bin", all) +
		"begin-base64 644 c.txt\r\naGVsbG8=\r\n====\r\n" + "begin 644 cut.bin\r\nM86)C\r\n"
	var got []block
	if err := textBlocks(strings.NewReader(text), 1<<20, func(b block) error { got = append(got, b); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d blocks: %+v", len(got), got)
	}
	for i, w := range []struct {
		kind, name string
		data       []byte
		cut        bool
	}{{"uuencode", "a.exe", pe, false}, {"yenc", "b.bin", all, false}, {"uuencode", "c.txt", []byte("hello"), false}, {"uuencode", "cut.bin", []byte("abc"), true}} {
		if got[i].Kind != w.kind || got[i].Name != w.name || !bytes.HasPrefix(got[i].Data, w.data) || len(got[i].Data) > len(w.data)+2 || got[i].Cut != w.cut {
			t.Errorf("block %d: %s %q cut=%v %d bytes", i, got[i].Kind, got[i].Name, got[i].Cut, len(got[i].Data))
		}
	}
	// The bound: a block over max is cut at max and says so.
	got = nil
	textBlocks(strings.NewReader(mailcorpus.UUEncode("big", bytes.Repeat([]byte("A"), 10000))), 1000, func(b block) error { got = append(got, b); return nil })
	if len(got) != 1 || len(got[0].Data) != 1000 || !got[0].Cut {
		t.Fatalf("over the cap: %d blocks, %d bytes", len(got), len(got[0].Data))
	}
}

func TestCarve(t *testing.T) {
	pe := mailcorpus.PE()
	z := mailcorpus.Zip(mailcorpus.Member{Name: "r.exe", Data: pe, Method: zip.Deflate})
	run := append(append(append([]byte("text before\n"), z...), []byte("\n--b--\nmore text, then a page\n<html><form></form></html>trailing\n")...), pe...)
	got := carve(bytes.NewReader(run), int64(len(run)), 100)
	var types []string
	for _, c := range got {
		types = append(types, c.Type)
	}
	want := []string{TypeZip, TypeHTML, TypePE}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("carved %v, want %v (%+v)", types, want, got)
	}
	if got[0].Size != int64(len(z)) || got[1].Size != int64(len("<html><form></form></html>")) || got[2].Off != int64(len(run)-len(pe)) {
		t.Errorf("extents: %+v", got)
	}
	// The bound: at most max.
	many := bytes.Repeat(append([]byte("\n"), pe...), 50)
	if n := len(carve(bytes.NewReader(many), int64(len(many)), 10)); n != 10 {
		t.Errorf("carved %d, want the cap 10", n)
	}
	// A signature straddling two windows.
	big := append(make([]byte, carveWindow-10), pe...)
	if c := carve(bytes.NewReader(big), int64(len(big)), 10); len(c) != 1 || c[0].Off != carveWindow-10 {
		t.Errorf("across windows: %+v", c)
	}
}

// The charset of a text part is left alone: the bytes scanned are the
// bytes a client saves.
func TestCharsetNotConverted(t *testing.T) {
	pe := mailcorpus.PE()
	msg := mailcorpus.Message("x", mailcorpus.Leaf("Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64", mailcorpus.B64(pe)))
	items, _ := walkAll(t, msg, Limits{})
	if it := find(items, TypePE); it == nil || !bytes.Equal(it.Data, pe) {
		t.Fatalf("the program was not scanned as sent: %+v", items)
	}
}

// Duplicate and unknown transfer encodings: every reading is an item,
// the walk goes on to the next part, and the finding says so.
func TestAmbiguousEncodings(t *testing.T) {
	pe := mailcorpus.PE()
	msg := mailcorpus.Message("x", mailcorpus.Multipart("b",
		mailcorpus.Leaf("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64", mailcorpus.B64(pe)),
		mailcorpus.Leaf("Content-Type: text/plain\r\nContent-Transfer-Encoding: x-gibberish", "=41=42\r\n"),
		mailcorpus.Leaf("Content-Type: text/plain", "after\r\n")))
	items, findings := walkAll(t, msg, Limits{})
	paths := map[string]string{}
	for _, it := range items {
		paths[it.Path] = string(it.Data)
	}
	if paths["1.1~base64"] != string(pe) || paths["1.2"] != "=41=42" || paths["1.2~quoted-printable"] != "AB" || paths["1.3"] != "after" {
		t.Fatalf("readings: %q", paths)
	}
	if _, ok := paths["1.2~base64"]; ok {
		t.Errorf("a reading that does not decode was scanned")
	}
	var amb int
	for _, f := range findings {
		if f.Kind == "ambiguous" {
			amb++
		}
	}
	if amb != 2 {
		t.Errorf("findings %+v", findings)
	}
}

// Names declared the ways clients read them.
func TestDeclaredNames(t *testing.T) {
	for _, c := range []struct{ hdr, want string }{
		{"Content-Disposition: attachment; filename*0*=iso-8859-1''r%E9port; filename*1=\".js\"", "r\u00e9port.js"},
		{"Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.exe", "\u20ac.exe"},
		{"Content-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Type: application/octet-stream; name=\"a.exe\"", "a.pdf|a.exe"},
		{"Content-Type: application/octet-stream; name=\"=?utf-8?q?b=2Ejs?=\"", "b.js"},
		{"Content-Disposition: attachment; filename=\"one.txt\"\r\nContent-Disposition: attachment; filename=\"two.js\"", "one.txt|two.js"},
	} {
		msg := mailcorpus.Message("x", mailcorpus.Leaf(c.hdr, "data\r\n"))
		items, _ := walkAll(t, msg, Limits{})
		if got := strings.Join(items[1].Names, "|"); got != c.want {
			t.Errorf("%s: %q, want %q", c.hdr, got, c.want)
		}
	}
}

// Every new decoder stops at the expansion ratio, and says so.
func TestDecompressionBounds(t *testing.T) {
	zeros := make([]byte, 4<<20)
	for _, c := range []struct {
		name string
		part string
	}{
		{"bzip2", mailcorpus.Attach("application/x-bzip2", "z.bin.bz2", mailcorpus.Bzip2(zeros))},
		{"xz", mailcorpus.Attach("application/x-xz", "z.bin.xz", mailcorpus.XZ(zeros))},
		{"zip-bzip2", mailcorpus.Attach("application/zip", "z.zip", mailcorpus.Zip(mailcorpus.Member{Name: "z.bin", Data: zeros, Method: 12}))},
		{"zip-lzma", mailcorpus.Attach("application/zip", "z.zip", mailcorpus.Zip(mailcorpus.Member{Name: "z.bin", Data: zeros, Method: 14}))},
		{"7z", mailcorpus.Attach("application/x-7z-compressed", "z.7z", mailcorpus.SevenZip("z.bin", zeros))},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := mailcorpus.Message("x", mailcorpus.Multipart("b", c.part))
			items, findings := walkAll(t, msg, Limits{MaxRatio: 10})
			last := items[len(items)-1]
			if !last.Item.Truncated || int64(len(last.Data)) >= int64(len(zeros)) {
				t.Fatalf("%s: %d bytes expanded, truncated=%v, findings %+v", last.Path, len(last.Data), last.Item.Truncated, findings)
			}
			var limit bool
			for _, f := range findings {
				limit = limit || f.Kind == "limit" && f.Path == last.Path
			}
			if !limit {
				t.Errorf("no limit finding: %+v", findings)
			}
		})
	}
}

// Archives nest past max_depth (each level costs its bytes against
// max_total), up to the ceiling, where the archive is unopened.
func TestArchiveCeiling(t *testing.T) {
	z := mailcorpus.Zip(mailcorpus.Member{Name: "r.txt", Data: []byte("x"), Method: zip.Store})
	for i := 0; i < 12; i++ {
		z = mailcorpus.Zip(mailcorpus.Member{Name: fmt.Sprintf("l%d.zip", i), Data: z, Method: zip.Store})
	}
	msg := mailcorpus.Message("x", mailcorpus.Multipart("b", mailcorpus.Attach("application/zip", "a.zip", z)))
	items, findings := walkAll(t, msg, Limits{MaxDepth: 2}) // ceiling 8
	var unopened []Anomaly
	for _, f := range findings {
		if f.Kind == "unopened" {
			unopened = append(unopened, f)
		}
	}
	last := items[len(items)-1]
	if len(unopened) != 1 || unopened[0].Path != last.Path || last.Item.Depth != 8 {
		t.Fatalf("last %s depth %d, findings %+v", last.Path, last.Item.Depth, findings)
	}
}

// A message inside an archive is walked as a message; a part that only
// looks like one is not.
func TestMessageInArchive(t *testing.T) {
	inner := mailcorpus.Message("in", mailcorpus.Multipart("i", mailcorpus.Attach("application/pdf", "x.pdf", mailcorpus.PDF())))
	msg := mailcorpus.Message("x", mailcorpus.Multipart("b",
		mailcorpus.Attach("application/zip", "m.zip", mailcorpus.Zip(mailcorpus.Member{Name: "fwd.eml", Data: inner})),
		mailcorpus.Leaf("Content-Type: text/plain", "From: a@b\r\nSubject: quoted\r\n\r\nx\r\n")))
	items, _ := walkAll(t, msg, Limits{})
	var paths []string
	for _, it := range items {
		paths = append(paths, it.Path)
	}
	want := "[header 1/preamble 1.1 1.1/m.zip/fwd.eml 1.1/m.zip/fwd.eml/1/preamble 1.1/m.zip/fwd.eml/1.1 1.2]"
	if fmt.Sprint(paths) != want {
		t.Fatalf("%v, want %s", paths, want)
	}
}

func FuzzTextBlocks(f *testing.F) {
	f.Add([]byte(mailcorpus.UUEncode("a.exe", mailcorpus.PE()[:100])))
	f.Add([]byte(mailcorpus.YEnc("b.bin", []byte("\x00\x01=\r\n.abc"))))
	f.Add([]byte("begin-base64 644 c\naGVsbG8=\n====\n"))
	f.Add([]byte("begin 644 x\n\xff\xff\n=ybegin name=\n=ypart begin=1\n==\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 4096
		err := textBlocks(bytes.NewReader(in), max, func(b block) error {
			if int64(len(b.Data)) > max || b.Kind == "" {
				t.Fatalf("block %s %q: %d bytes over %d", b.Kind, b.Name, len(b.Data), max)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzCarve(f *testing.F) {
	pe := mailcorpus.PE()
	f.Add(append([]byte("x\n"), pe[:300]...))
	f.Add(append([]byte("x"), mailcorpus.Zip(mailcorpus.Member{Name: "a", Data: []byte("b")})...))
	f.Add([]byte("a <html><form action=https://x></form></html> b\n#!/bin/sh\nx\n--b"))
	f.Add([]byte("PK\x03\x04PK\x05\x06\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, c := range carve(bytes.NewReader(in), int64(len(in)), 20) {
			if c.Off <= 0 || c.Size <= 0 || c.Off+c.Size > int64(len(in)) {
				t.Fatalf("carved %+v out of %d bytes", c, len(in))
			}
		}
		Sniff(bytes.NewReader(in), int64(len(in)))
	})
}

// Zip members past max_members are expanded into one flat item, each
// within the expansion ratio, and a program among them is carved out.
func TestZipMembersPastLimit(t *testing.T) {
	pe := mailcorpus.PE()
	zeros := make([]byte, 4<<20)
	z := mailcorpus.Zip(
		mailcorpus.Member{Name: "a.txt", Data: []byte("a")},
		mailcorpus.Member{Name: "b.txt", Data: []byte("b")},
		mailcorpus.Member{Name: "zeros.bin", Data: zeros, Method: zip.Deflate},
		mailcorpus.Member{Name: "r.exe", Data: pe, Method: zip.Deflate},
	)
	msg := mailcorpus.Message("x", mailcorpus.Multipart("b", mailcorpus.Attach("application/zip", "a.zip", z)))
	items, _ := walkAll(t, msg, Limits{MaxMembers: 2, MaxRatio: 10})
	var flat *seen
	for i := range items {
		if items[i].Item.DepthLimited && strings.HasSuffix(items[i].Path, "members-3+") {
			flat = &items[i]
		}
	}
	if flat == nil || len(flat.Data) > 200<<10 {
		t.Fatalf("flat item of the members past the limit: %+v", flat)
	}
	if c := find(items, TypePE); c == nil || !c.Item.Carved || !bytes.HasPrefix(c.Data, pe) {
		t.Fatalf("the program past the member limit was not carved: %+v", items)
	}
}

func TestLenientQP(t *testing.T) {
	for in, want := range map[string]string{
		"type=3D\"password\"":  `type="password"`,
		"soft=\r\nbreak=\nend": "softbreakend",
		"bad =ZZ and =4":       "bad =ZZ and =4",
		"=":                    "=",
		"caf=C3=A9":            "caf\xc3\xa9",
	} {
		got, err := io.ReadAll(lenientQP(strings.NewReader(in)))
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

func TestHTMLBase64(t *testing.T) {
	pe := mailcorpus.PE()
	b64 := base64.StdEncoding.EncodeToString(pe)
	page := "<a href=\"data:application/octet-stream;base64," + b64 + "\">x</a><script>var s='" + b64[:400] + "\r\n" + b64[400:800] + "';</script><img src=\"data:image/png;base64,iVBORw0KGgo=\">"
	got := htmlBase64(strings.NewReader(page), 10)
	// The PNG's data: URI is short (12 characters): decoded too.
	if len(got) != 3 || !bytes.Equal(got[0], pe) || !bytes.Equal(got[1], pe[:600]) || string(got[2]) != "\x89PNG\r\n\x1a\n" {
		t.Fatalf("%d embedded files", len(got))
	}
	if n := len(htmlBase64(strings.NewReader(strings.Repeat("'"+b64+"' ", 20)), 10)); n != 10 {
		t.Errorf("%d embedded files, want the cap 10", n)
	}
}

func FuzzLenientQP(f *testing.F) {
	f.Add([]byte("a=3Db=\r\nc=\nd=ZZ="))
	f.Add([]byte("=\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(lenientQP(bytes.NewReader(in)))
		if err != nil || len(out) > len(in) {
			t.Fatalf("%q: %d bytes out of %d, %v", in, len(out), len(in), err)
		}
	})
}

// htmlB64RE is the pattern htmlB64 stands for (issue #32: what the walk
// found with it, before, it must find the same way now).
var htmlB64RE = regexp.MustCompile("(?:;base64,|[\"'`])([A-Za-z0-9+/\r\n]{128,}={0,2})")

// sameB64AsRegexp fails when htmlB64's findings in page are not the
// regexp's submatches, in order, at most max.
func sameB64AsRegexp(t testing.TB, page []byte, max int) {
	t.Helper()
	var want [][]byte
	for _, m := range htmlB64RE.FindAllSubmatch(page, max) {
		want = append(want, m[1])
	}
	if got := htmlB64(page, max); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("htmlB64(%q, %d)\n got %q\nwant %q (the regexp's)", page, max, got, want)
	}
}

// TestHTMLB64MatchesRegexp: runs just short of and at 128, padding past
// two, ";base64," cut short or in another case, quotes inside and next to
// runs, the cap, bytes that are no UTF-8, HTML pages of the ham corpus,
// and random pages over the pattern's own alphabet.
func TestHTMLB64MatchesRegexp(t *testing.T) {
	a127, a128 := strings.Repeat("A", 127), strings.Repeat("A", 128)
	for _, s := range []string{
		"", "'", ";base64,", "'" + a127 + "'", "'" + a128, `"` + a128 + "===", ";base64," + a128 + "=", ";BASE64," + a128, ";base64" + a128,
		";base64;base64," + a128, "'\r\n" + a127, "''" + a128 + "''" + a128, "'" + a127 + "'" + a128 + "=", "\xff'" + a128 + "\xc5",
		"data:image/png;base64," + strings.Repeat("iVBO\r\n", 40) + "=\"",
	} {
		for _, max := range []int{-1, 0, 1, 5} {
			sameB64AsRegexp(t, []byte(s), max)
		}
	}
	for _, m := range hamgen.Corpus(32, 300, time.Hour) {
		sameB64AsRegexp(t, m.Raw, -1)
	}
	alphabet := []string{"'", `"`, "`", ";", ";base64,", "base64", ",", "=", "==", "\r", "\n", "+", "/", "A", "z", "9", " ", "<", "\xc5", a127[:60], a127}
	r := rand.New(rand.NewPCG(32, 3))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		sameB64AsRegexp(t, []byte(b.String()), r.IntN(4)-1)
	}
}

func FuzzHTMLBase64(f *testing.F) {
	f.Add([]byte("<a href=\"data:x;base64," + strings.Repeat("QUJD", 40) + "\">"))
	f.Add([]byte("'" + strings.Repeat("A", 129) + "=='"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sameB64AsRegexp(t, in, 5)
		sameB64AsRegexp(t, in, -1)
		for _, b := range htmlBase64(bytes.NewReader(in), 5) {
			if len(b) > len(in) {
				t.Fatalf("decoded %d bytes out of %d", len(b), len(in))
			}
		}
	})
}

// A compressed stream past a limit is carved and opened; a signature met
// by chance that does not open is no finding.
func TestCarveCompressed(t *testing.T) {
	pe := mailcorpus.PE()
	for _, c := range []struct {
		name string
		data []byte
	}{{"gzip", mailcorpus.Gzip("r.exe", pe)}, {"bzip2", mailcorpus.Bzip2(pe)}, {"xz", mailcorpus.XZ(pe)}} {
		run := append([]byte("text\n"), c.data...)
		got := carve(bytes.NewReader(run), int64(len(run)), 10)
		if len(got) == 0 || got[0].Type != c.name || got[0].Off != 5 {
			t.Errorf("%s: carved %+v", c.name, got)
		}
	}
	// A gzip-like header in random bytes past a limit: carved, fails to
	// open, and the message is not held for it.
	fake := append([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), bytes.Repeat([]byte{0x55}, 300)...)
	msg := mailcorpus.Message("x", mailcorpus.Multipart("a", mailcorpus.Multipart("b", mailcorpus.Multipart("c", mailcorpus.Attach("application/octet-stream", "data.bin", fake)))))
	_, anomalies := walkAll(t, msg, Limits{MaxDepth: 1})
	for _, a := range anomalies {
		if a.Kind == "unopened" {
			t.Errorf("a chance signature became a finding: %+v", a)
		}
	}
}
