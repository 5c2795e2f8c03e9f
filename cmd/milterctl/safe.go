package main

import (
	"fmt"
	"io"
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
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = fmt.Appendf(out, `\x%02x`, p[i])
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, p[i:i+size]...)
		}
		i += size
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
