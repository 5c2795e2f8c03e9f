package main

import (
	"bytes"
	"testing"
)

func TestTerminalEscapes(t *testing.T) {
	var b bytes.Buffer
	terminal{&b}.Write([]byte("Subject: \x1b[2Jhi\rthere\ttab\nnext \xff caf\xc3\xa9 \xc2\x9b end"))
	want := `Subject: \x1b[2Jhi\x0dthere` + "\ttab\n" + `next \xff café \u009b end`
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}
