package mimewalk

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"regexp"
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
	br := bufio.NewReaderSize(r, 64<<10)
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
