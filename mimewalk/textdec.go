package mimewalk

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"regexp"
	"slices"
	"unicode"
)

// Encodings older than MIME that mail clients still decode inside a text
// body and show as attachments: uuencode (POSIX uuencode, "begin MODE
// NAME" … "end", and its begin-base64 form) and yEnc (yEnc 1.3, "=ybegin
// … name=NAME" … "=yend"). Outlook Express, Thunderbird and every Usenet
// reader show such a block as a file.

// block is one encoded file found in a text.
type block struct {
	Kind string // uuencode or yenc
	Name string
	Data []byte
	Cut  bool // ended by the size cap or the end of the text, not by its end line
}

var (
	uuBegin = regexp.MustCompile(`^begin(-base64)? +[0-7]{1,4} +(.*?)\s*$`)
	yBegin  = regexp.MustCompile(`^=ybegin .*name=(.*?)\s*$`)
)

// textBlocks calls fn for every uuencoded or yEnc block in r, each
// decoded up to max bytes. One pass, line by line.
func textBlocks(r io.Reader, max int64, fn func(block) error) error {
	br := bufio.NewReaderSize(r, lineBuf(r))
	var cur *block
	var b64 bool
	done := func(cut bool) error {
		b := cur
		cur = nil
		b.Cut = b.Cut || cut
		return fn(*b)
	}
	for {
		line, err := br.ReadSlice('\n')
		long := err == bufio.ErrBufferFull
		for long { // a line longer than the buffer is no encoded line: skip it
			_, err = br.ReadSlice('\n')
			long = err == bufio.ErrBufferFull
			line = nil
		}
		t := bytes.TrimRight(line, "\r\n")
		switch {
		case cur == nil && !bytes.HasPrefix(t, []byte("begin")) && !bytes.HasPrefix(t, []byte("=ybegin")):
		case cur == nil:
			if m := uuBegin.FindSubmatch(t); m != nil {
				cur, b64 = &block{Kind: "uuencode", Name: string(m[2])}, len(m[1]) > 0
			} else if m := yBegin.FindSubmatch(t); m != nil {
				cur = &block{Kind: "yenc", Name: string(m[1])}
			}
		case cur.Kind == "uuencode" && (string(t) == "end" || b64 && string(t) == "===="):
			if err := done(false); err != nil {
				return err
			}
		case cur.Kind == "yenc" && bytes.HasPrefix(t, []byte("=yend")):
			if err := done(false); err != nil {
				return err
			}
		case cur.Kind == "yenc" && bytes.HasPrefix(t, []byte("=ypart ")):
		case int64(len(cur.Data)) >= max:
			cur.Cut = true
		case cur.Kind == "yenc":
			cur.Data = yDecodeLine(cur.Data, t)
		case b64:
			dst := make([]byte, base64.StdEncoding.DecodedLen(len(t)))
			n, _ := base64.StdEncoding.Decode(dst, t)
			cur.Data = append(cur.Data, dst[:n]...)
		default:
			cur.Data = uuDecodeLine(cur.Data, t)
		}
		if cur != nil && int64(len(cur.Data)) > max {
			cur.Data, cur.Cut = cur.Data[:max], true
		}
		if err != nil {
			if cur != nil {
				return done(true)
			}
			return nil
		}
	}
}

// uuDecodeLine appends the bytes of one uuencoded line: its first
// character is the count, then 4 characters for each 3 bytes, each
// character (c - 32) & 63 ("`" is 0). Short lines are decoded as far as
// they go, as uudecode does.
func uuDecodeLine(dst, line []byte) []byte {
	if len(line) == 0 {
		return dst
	}
	n := int((line[0] - 32) & 63)
	line = line[1:]
	for i := 0; n > 0 && i+1 < len(line); i += 4 {
		var c [4]byte
		for j := range 4 {
			if i+j < len(line) {
				c[j] = (line[i+j] - 32) & 63
			}
		}
		out := [3]byte{c[0]<<2 | c[1]>>4, c[1]<<4 | c[2]>>2, c[2]<<6 | c[3]}
		k := min(n, 3)
		dst = append(dst, out[:k]...)
		n -= k
	}
	return dst
}

// yDecodeLine appends the bytes of one yEnc line: each byte is c - 42,
// "=" escapes the next as c - 64 - 42.
func yDecodeLine(dst, line []byte) []byte {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '=' && i+1 < len(line) {
			i++
			c = line[i] - 64
		}
		dst = append(dst, c-42)
	}
	return dst
}

// lenientQP decodes quoted-printable as clients do, without failing:
// "=" and a line end is a soft break, "=XX" a byte, any other "=" kept.
func lenientQP(r io.Reader) io.Reader { return &qpReader{br: bufio.NewReaderSize(r, lineBuf(r))} }

// lineBuf is the size of a line reader's buffer on r: 64 KiB, or, for a
// reader of a known smaller size, that size and one byte, which holds any
// line of it just as well (issue #32: most items of ordinary mail are a
// few KiB, and 64 KiB a reader was most of a small message's garbage).
func lineBuf(r io.Reader) int {
	if sr, ok := r.(*io.SectionReader); ok && sr.Size() < 64<<10 {
		return int(sr.Size()) + 1
	}
	return 64 << 10
}

type qpReader struct{ br *bufio.Reader }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (q *qpReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := q.br.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if c != '=' {
			p[n] = c
			n++
			continue
		}
		next, _ := q.br.Peek(2)
		switch {
		case len(next) >= 1 && next[0] == '\n':
			q.br.Discard(1)
		case len(next) >= 2 && next[0] == '\r' && next[1] == '\n':
			q.br.Discard(2)
		default:
			h, ok1 := byte(0), false
			l, ok2 := byte(0), false
			if len(next) == 2 {
				h, ok1 = unhex(next[0])
				l, ok2 = unhex(next[1])
			}
			if ok1 && ok2 {
				c = h<<4 | l
				q.br.Discard(2)
			}
			p[n] = c
			n++
		}
	}
	return n, nil
}

// htmlPageMax is how much of an HTML page htmlBase64 reads.
const htmlPageMax = 16 << 20

// htmlBase64 returns the decoded files an HTML page embeds, at most max
// (all when max < 0), from its first htmlPageMax bytes: a data: URI's
// base64, or a quoted base64 string long enough to be a file (a script's
// atob argument).
func htmlBase64(r io.Reader, max int) [][]byte {
	page, _ := io.ReadAll(io.LimitReader(r, htmlPageMax))
	var out [][]byte
	decode := func(s []byte) []byte {
		dst := make([]byte, base64.RawStdEncoding.DecodedLen(len(s)))
		return dst[:lenient(dst, s)]
	}
	for _, m := range htmlB64(page, max) {
		out = append(out, decode(bytes.ReplaceAll(bytes.ReplaceAll(m, []byte("\r"), nil), []byte("\n"), nil)))
	}
	// The data: URIs as a browser reads them, and base64 cut into short
	// strings a script joins, which the pattern above misses; one it found
	// too is not scanned twice. A data: URI declares a file, so it is
	// decoded however short: the shipped rules match a program by its
	// first 4 bytes (an ELF) and a phishing form in 84 (a 112-character
	// data:text/html iframe). Quoted strings are only guessed to be files:
	// short ones are words and names, not decoded.
	strict := len(out)
	joined := func(page []byte, off int) ([]byte, int) {
		s, next := joinedB64(page, off)
		return decode(s), next
	}
	for _, f := range []struct {
		find func([]byte, int) ([]byte, int)
		min  int // decoded bytes
	}{{dataURI, 1}, {joined, 96}} {
		for off := 0; max < 0 || len(out) < max; {
			b, next := f.find(page, off)
			if next < 0 {
				break
			}
			off = next
			if len(b) < f.min {
				continue
			}
			if !slices.ContainsFunc(out[:strict], func(o []byte) bool { return bytes.Equal(o, b) }) {
				out = append(out, b)
			}
		}
	}
	return out
}

// joinedB64 returns the base64 of the first run of two or more quoted
// strings of page at or past off that only commas, pluses and whitespace
// separate ('TVqQ' + 'AAME', or ['TVqQ', 'AAME'].join(”)): HTML
// smuggling's way to keep each string short. It returns where to look for
// the next (-1: none).
func joinedB64(page []byte, off int) ([]byte, int) {
	for {
		i := bytes.IndexAny(page[off:], "\"'`")
		if i < 0 {
			return nil, -1
		}
		var s []byte // from the second piece on: most strings are alone
		e, pieces, first := off+i, 0, [2]int{}
		for e < len(page) && (page[e] == '"' || page[e] == '\'' || page[e] == '`') {
			q, r := page[e], e+1
			for r < len(page) && (b64Run(page[r]) || page[r] == '=') {
				r++
			}
			if r == len(page) || page[r] != q {
				break
			}
			if pieces++; pieces == 1 {
				first = [2]int{e + 1, r}
			} else {
				if pieces == 2 {
					s = append(s, page[first[0]:first[1]]...)
				}
				s = append(s, page[e+1:r]...)
			}
			for e = r + 1; e < len(page) && bytes.IndexByte([]byte(" \t\r\n,+"), page[e]) >= 0; e++ {
			}
		}
		if pieces >= 2 {
			return bytes.ReplaceAll(bytes.ReplaceAll(s, []byte("\r"), nil), []byte("\n"), nil), e
		}
		off += i + 1
	}
}

// dataURI returns the bytes of the first data: URI of page at or past
// off as a browser decodes them, and where to look for the next (-1:
// none). WHATWG fetch's data: URL processor takes "base64" in any case
// after a ';' and spaces, percent-decodes the data and drops ASCII
// whitespace in it (forgiving-base64 decode); without ";base64" the data
// is the percent-decoded bytes themselves (RFC 2397), up to the end of the
// attribute or CSS url() the URI stands in. In an attribute, character
// references are decoded before, the comma's too (&#44;, &comma;). Each
// of these once hid a program in an HTML page from the shipped rules
// (reviews of #32).
func dataURI(page []byte, off int) ([]byte, int) {
	for {
		i := bytes.IndexAny(page[off:], ",&")
		if i < 0 {
			return nil, -1
		}
		c := off + i
		off = c + 1
		if page[c] == '&' {
			b, n := charRef(page[c:])
			if b != ',' {
				continue
			}
			off = c + n
		}
		m := bytes.TrimRight(page[:c], " \t\n\f\r")
		b64 := len(m) >= len("base64") && bytes.EqualFold(m[len(m)-6:], []byte("base64"))
		if b64 {
			t := bytes.TrimRight(m[:len(m)-6], " ")
			b64 = len(t) > 0 && t[len(t)-1] == ';'
		}
		if !b64 && !dataMediaType(m) {
			continue
		}
		var s []byte
		e := off
		for e < len(page) {
			b, n := page[e], 1
			switch {
			case b == '%' && e+2 < len(page):
				h, ok1 := unhex(page[e+1])
				l, ok2 := unhex(page[e+2])
				if ok1 && ok2 {
					b, n = h<<4|l, 3
				}
			case b == '&':
				b, n = charRef(page[e:])
			}
			space := b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r'
			if b64 && (b64Run(b) && b != '\r' && b != '\n' || b == '=') || !b64 && (n > 1 || !space && bytes.IndexByte([]byte("\"'<>()"), b) < 0) {
				s = append(s, b)
			} else if !b64 || !space {
				break
			}
			e += n
		}
		if b64 {
			dst := make([]byte, base64.RawStdEncoding.DecodedLen(len(s)))
			s = dst[:lenient(dst, s)]
		}
		return s, e
	}
}

// dataMediaType tells whether m ends in "data:" and a media type, what
// stands before a data: URI's comma.
func dataMediaType(m []byte) bool {
	for i := len(m) - 1; i >= 0 && len(m)-i <= 256; i-- {
		switch c := m[i]; {
		case c == ':':
			return i >= 4 && bytes.EqualFold(m[i-4:i], []byte("data")) && (i == 4 || !unicode.IsLetter(rune(m[i-5])) && !unicode.IsDigit(rune(m[i-5])))
		case c < ' ' || bytes.IndexByte([]byte("\"'<>()"), c) >= 0:
			return false
		}
	}
	return false
}

var namedRefs = []struct {
	name string
	b    byte
}{{"&plus;", '+'}, {"&sol;", '/'}, {"&equals;", '='}, {"&NewLine;", '\n'}, {"&Tab;", '\t'}, {"&comma;", ','}}

// charRef decodes the HTML character reference at the start of p that
// stands for a base64 character, whitespace or a data: URI's comma: its byte and length, or
// ('&', 1) when it is none of them.
func charRef(p []byte) (byte, int) {
	for _, r := range namedRefs {
		if bytes.HasPrefix(p, []byte(r.name)) {
			return r.b, len(r.name)
		}
	}
	if len(p) < 3 || p[1] != '#' {
		return '&', 1
	}
	v, n, base := 0, 2, 10
	if p[2] == 'x' || p[2] == 'X' {
		n, base = 3, 16
	}
	start := n
	for ; n < len(p) && n-start < 8; n++ {
		d, ok := unhex(p[n])
		if !ok || base == 10 && d > 9 {
			break
		}
		v = v*base + int(d)
	}
	if n == start || v > 127 {
		return '&', 1
	}
	if n < len(p) && p[n] == ';' {
		n++
	}
	return byte(v), n
}

// htmlB64 finds the base64 of page, at most max (all when max < 0): what
// FindAllSubmatch of "(?:;base64,|[\"'`])([A-Za-z0-9+/\r\n]{128,}={0,2})"
// finds (in decode_test.go, the reference a fuzz target compares with),
// without trying that pattern at every byte of every HTML page (the walk's
// largest cost on a text+HTML letter, issue #32). A match starts at a
// quote (a backtick too: a template literal is as much a string for
// atob) or at ";base64,", neither of which is in the run, so each byte is
// looked at once.
func htmlB64(page []byte, max int) [][]byte {
	var out [][]byte
	for off := 0; max < 0 || len(out) < max; {
		i := bytes.IndexAny(page[off:], ";\"'`")
		if i < 0 {
			break
		}
		s := off + i
		r := s + 1
		if page[s] == ';' {
			if !bytes.HasPrefix(page[s:], []byte(";base64,")) {
				off = r
				continue
			}
			r = s + len(";base64,")
		}
		e := r
		for e < len(page) && b64Run(page[e]) {
			e++
		}
		if e-r < 128 {
			off = e
			continue
		}
		for k := 0; k < 2 && e < len(page) && page[e] == '='; k++ {
			e++
		}
		out = append(out, page[r:e])
		off = e
	}
	return out
}

// b64Run: [A-Za-z0-9+/\r\n].
func b64Run(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '\r' || c == '\n'
}
