package campaign

import "strings"

// The hosts of links and the domains of addresses in a text, found by
// hand rather than by regular expression: Go's regexp has no literal to
// start from in either pattern, so it tried a match at every position of
// every text part, most of a 10 KiB text+HTML message's fingerprint
// (issue #32). Each scanner finds exactly what its pattern (in
// linkscan_test.go, the reference a fuzz target compares with) finds with
// FindAllStringSubmatch: leftmost, non-overlapping, case-insensitive as
// Go folds case (so K, U+212A KELVIN SIGN, is a "k" and ſ, U+017F LONG S,
// an "s"), \b on ASCII word characters.

// Two runes outside ASCII that Go's case folding makes ASCII letters.
const (
	kelvin = "\u212a" // folds to k
	longS  = "\u017f" // folds to s
)

// scanAnchored calls fn with the submatch of each leftmost,
// non-overlapping match in text of a pattern every match of which holds
// anchor: at, given an anchor at p, says where its match starts and the
// submatch text[a:b] that ends it (s < 0: no match there). A match that
// starts inside the last one is not one, as with FindAllStringSubmatch.
func scanAnchored(text, anchor string, at func(text string, p int) (s, a, b int), fn func(string)) {
	end := 0 // the last match's end: the next starts at or after it
	for off := 0; ; {
		i := strings.Index(text[off:], anchor)
		if i < 0 {
			return
		}
		p := off + i
		off = p + len(anchor)
		s, a, b := at(text, p)
		if s < end { // also s < 0
			continue
		}
		end, off = b, b
		fn(text[a:b])
	}
}

// linkHosts calls fn with the host of each link in text, in order: the
// submatch of `(?i)\b(?:https?|ftp)://([a-z0-9\-._~%]+|\[[0-9a-f:.]+\])`.
func linkHosts(text string, fn func(string)) { scanAnchored(text, "://", linkAt, fn) }

// linkAt is the link whose "://" is at p.
func linkAt(text string, p int) (s, a, b int) {
	// The scheme is the letters before "://"; one of three, so a "://"
	// has one possible start.
	switch {
	case p >= 4 && strings.EqualFold(text[p-4:p], "http"):
		s = p - 4
	case p >= 3 && strings.EqualFold(text[p-3:p], "ftp"):
		s = p - 3
	case p >= 5 && strings.EqualFold(text[p-5:p], "https"):
		s = p - 5
	case p >= 6 && text[p-2:p] == longS && strings.EqualFold(text[p-6:p-2], "http"):
		s = p - 6
	default:
		return -1, 0, 0
	}
	if s > 0 && wordByte(text[s-1]) {
		return -1, 0, 0
	}
	h := p + 3
	n := runLen(text[h:], hostRune)
	if n == 0 && h < len(text) && text[h] == '[' {
		if m := runLen(text[h+1:], ipRune); m > 0 && h+1+m < len(text) && text[h+1+m] == ']' {
			n = m + 2
		}
	}
	if n == 0 {
		return -1, 0, 0
	}
	return s, h, h + n
}

// mailDomains calls fn with the domain of each e-mail address in text,
// in order: the submatch of
// `(?i)[a-z0-9._%+\-]@([a-z0-9\-]+(?:\.[a-z0-9\-]+)+)`.
func mailDomains(text string, fn func(string)) { scanAnchored(text, "@", mailAt, fn) }

// mailAt is the address whose '@' is at q.
func mailAt(text string, q int) (s, a, b int) {
	// One character of the local part before '@': where it starts is the
	// match's start.
	switch {
	case q >= 1 && text[q-1] < 0x80:
		if !localByte(text[q-1]) {
			return -1, 0, 0
		}
		s = q - 1
	case q >= 2 && text[q-2:q] == longS:
		s = q - 2
	case q >= 3 && text[q-3:q] == kelvin:
		s = q - 3
	default:
		return -1, 0, 0
	}
	d := q + 1
	n := runLen(text[d:], labelRune)
	if n == 0 {
		return -1, 0, 0
	}
	// Then one or more labels, each a dot and a label.
	e, labels := d+n, 0
	for e < len(text) && text[e] == '.' {
		m := runLen(text[e+1:], labelRune)
		if m == 0 {
			break
		}
		e += 1 + m
		labels++
	}
	if labels == 0 {
		return -1, 0, 0
	}
	return s, d, e
}

// runLen is the length in bytes of the longest prefix of s whose runes
// all satisfy in (ASCII bytes; the two folding runes by their UTF-8).
func runLen(s string, in func(byte) bool) int {
	n := 0
	for n < len(s) {
		switch c := s[n]; {
		case c < 0x80:
			if !in(c) {
				return n
			}
			n++
		case in('k') && strings.HasPrefix(s[n:], kelvin):
			n += len(kelvin)
		case in('s') && strings.HasPrefix(s[n:], longS):
			n += len(longS)
		default:
			return n
		}
	}
	return n
}

func letterOrDigit(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// wordByte: \b's word characters, ASCII only.
func wordByte(c byte) bool { return letterOrDigit(c) || c == '_' }

// hostRune: [a-z0-9\-._~%].
func hostRune(c byte) bool { return letterOrDigit(c) || strings.IndexByte("-._~%", c) >= 0 }

// ipRune: [0-9a-f:.], case-insensitive (no rune outside ASCII folds to
// a-f).
func ipRune(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':' || c == '.'
}

// localByte: [a-z0-9._%+\-].
func localByte(c byte) bool { return letterOrDigit(c) || strings.IndexByte("._%+-", c) >= 0 }

// labelRune: [a-z0-9\-].
func labelRune(c byte) bool { return letterOrDigit(c) || c == '-' }
