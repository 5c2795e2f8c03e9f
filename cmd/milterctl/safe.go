package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// terminal escapes what a terminal would act on: control bytes other than
// newline and tab (ESC, CR, backspace, …), DEL, the C1 controls and bytes
// that are not UTF-8 come out as \x1b, \u009b and the like. Headers, file
// names and reasons come from messages; a reviewer's terminal must not
// run what an attacker put in them. JSON output and `quarantine raw` are
// not written through it: they are exact.
type terminal struct{ w io.Writer }

func (t terminal) Write(p []byte) (int, error) {
	if _, err := t.w.Write(escape(nil, p, "\n\t")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// field escapes a value printed inside a row: every control byte, TAB and
// LF too, so that a file name or a header cannot end its row or add a
// column (a forged row in show or the digest); the terminal writer keeps
// TAB and LF for the table's own layout only.
func field(s string) string { return string(escape(nil, []byte(s), "")) }

// escape appends p to out with control bytes (but those in keep), DEL, C1
// controls and bytes that are not UTF-8 written as \x1b, \u009b and the
// like.
func escape(out, p []byte, keep string) []byte {
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = fmt.Appendf(out, `\x%02x`, p[i])
		case r < 0x20 && !strings.ContainsRune(keep, r), r == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, p[i:i+size]...)
		}
		i += size
	}
	return out
}
