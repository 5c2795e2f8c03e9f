package mimewalk

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"
)

// The flat decoder passes every input byte through and adds each base64
// run decoded, at any nesting.
func TestFlatDecoder(t *testing.T) {
	payload := bytes.Repeat([]byte("hidden payload "), 20)
	enc := base64.StdEncoding.EncodeToString(payload)
	var in bytes.Buffer
	in.WriteString("--b\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(enc) > 0 {
		n := min(76, len(enc))
		in.WriteString(enc[:n] + "\r\n")
		enc = enc[n:]
	}
	in.WriteString("--b--\r\n")
	out, err := io.ReadAll(flatDecoder(bytes.NewReader(in.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, in.Bytes()[:40]) || !bytes.Contains(out, payload) {
		t.Errorf("flat output lacks the input or the decoded payload:\n%q", out)
	}
}

func FuzzFlatDecoder(f *testing.F) {
	for _, s := range []string{
		"", "plain text\n", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n--b--\r\n",
		"QUJD\nREVG\nR0hJ\n", "====\n", "a\x00b\r\n" + string(bytes.Repeat([]byte("A"), 70000)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(flatDecoder(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) < len(in) {
			t.Fatalf("output %d bytes shorter than input %d: input bytes lost", len(out), len(in))
		}
	})
}
