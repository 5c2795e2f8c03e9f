package mimewalk

import (
	"bufio"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
)

// declaredNames are the file names a mail client may show for a part:
// the filename of every Content-Disposition field and the name of every
// Content-Type field (a part may carry two of each), each decoded as
// clients decode it: RFC 2231 continuations in any charset (Go's
// mime.ParseMediaType drops a non-UTF-8 charset and keeps only the
// plain pieces, so "r\xe9port.js" was ".js"), RFC 2047 encoded words.
// The first is the one most clients show.
func declaredNames(h message.Header) []string {
	var names []string
	add := func(n string) {
		for _, n := range clientNames(n) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	for _, f := range []struct{ field, param string }{{"Content-Disposition", "filename"}, {"Content-Type", "name"}} {
		for _, v := range h.Values(f.field) {
			for _, n := range param2231(v, f.param) {
				add(n)
			}
		}
	}
	return names
}

// clientNames are the names a client may give a declared name n: RFC 2047
// words decoded, cut at a NUL (=00 in an encoded word), and as Windows
// saves it (Win32 drops trailing dots and spaces from a file name:
// "invoice.js." and "invoice.js " run as invoice.js).
func clientNames(n string) []string {
	n = strings.TrimSpace(n)
	if strings.Contains(n, "=?") {
		if dec, err := wordDecoder.DecodeHeader(n); err == nil {
			n = dec
		}
	}
	if n == "" {
		return nil
	}
	out := []string{n}
	if c, _, ok := strings.Cut(n, "\x00"); ok && c != "" {
		out = append(out, c) // a client in C ends the name at a NUL
	}
	for _, v := range out {
		if w := strings.TrimRight(v, " ."); w != v && w != "" {
			out = append(out, w)
		}
	}
	return out
}

// param2231 are the values of parameter name in a header field value:
// each plain one (a parameter given twice: clients differ on which one
// counts, Python's email takes the first, Go's mime the last) and the
// RFC 2231 one, continuations (name*0, name*1*, …) joined and the charset
// of name*0* (or name*) applied.
func param2231(v, name string) []string {
	pieces := map[int]string{}
	ext := map[int]bool{}
	var plain []string
	for _, p := range splitParams(v) {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(strings.ReplaceAll(val[1:len(val)-1], `\"`, `"`), `\\`, `\`)
		}
		if k == name {
			plain = append(plain, val)
			continue
		}
		rest, ok := strings.CutPrefix(k, name+"*")
		if !ok {
			continue
		}
		star := strings.HasSuffix(rest, "*") || rest == ""
		rest = strings.TrimSuffix(rest, "*")
		n := 0
		if rest != "" {
			var err error
			if n, err = strconv.Atoi(rest); err != nil || n < 0 || n > 999 {
				continue
			}
		}
		pieces[n], ext[n] = val, star
	}
	if len(pieces) == 0 {
		return plain
	}
	idx := make([]int, 0, len(pieces))
	for n := range pieces {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	charset := ""
	var raw strings.Builder
	for i, n := range idx {
		val := pieces[n]
		if ext[n] {
			if i == 0 {
				// charset'language'value
				parts := strings.SplitN(val, "'", 3)
				if len(parts) == 3 {
					charset, val = parts[0], parts[2]
				}
			}
			if dec, err := url.PathUnescape(strings.ReplaceAll(val, "+", "%2B")); err == nil {
				val = dec
			}
		}
		raw.WriteString(val)
	}
	s := raw.String()
	if cs := strings.ToLower(charset); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		if r, err := message.CharsetReader(cs, strings.NewReader(s)); err == nil {
			if b, err := io.ReadAll(r); err == nil {
				s = string(b)
			}
		}
	}
	return append(plain, s)
}

// splitParams splits a header field value at the semicolons outside
// quoted strings.
func splitParams(v string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// flatNames are the names declared by the MIME header fields inside a
// flat run (what lay past a limit): the parts there are not walked, but
// the names their senders gave them still count, for rules (a .js is a
// script however deep) and for what a partial scan may let through.
func flatNames(r io.Reader) []string {
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	var field string // the field being unfolded
	flush := func() {
		if field == "" {
			return
		}
		k, v, _ := strings.Cut(field, ":")
		param := "filename"
		if strings.EqualFold(strings.TrimSpace(k), "content-type") {
			param = "name"
		}
		for _, v := range param2231(v, param) {
			for _, n := range clientNames(v) {
				if !seen[n] && len(names) < 1000 {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
		field = ""
	}
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if field != "" && len(l) > 0 && (l[0] == ' ' || l[0] == '\t') && len(field) < 8<<10 {
			field += l
			continue
		}
		flush()
		if len(l) > 13 && (strings.EqualFold(l[:13], "content-type:") || len(l) > 20 && strings.EqualFold(l[:20], "content-disposition:")) {
			field = l
		}
	}
	flush()
	return names
}
