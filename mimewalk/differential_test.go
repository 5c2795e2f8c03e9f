package mimewalk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"outguard/internal/mailcorpus"
)

// diffCorpus is the golden corpus and issue 23's corpus, as files.
func diffCorpus(t *testing.T) []string {
	files, _ := filepath.Glob("../testdata/messages/*.eml")
	dir := t.TempDir()
	for _, c := range append(mailcorpus.Hostile(), mailcorpus.Ordinary()...) {
		p := filepath.Join(dir, c.Name+".eml")
		if err := os.WriteFile(p, c.Msg, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// Names clients read differently (the reviewer's): a parameter given
	// twice, a plain and an RFC 2231 one.
	for i, h := range []string{
		"Content-Disposition: attachment; filename=\"invoice.js\"; filename=\"notes.txt\"",
		"Content-Type: application/octet-stream; name=\"invoice.js\"; name=\"notes.txt\"",
		"Content-Disposition: attachment; filename=\"invoice.js\"; filename*=utf-8''notes.txt",
	} {
		p := filepath.Join(dir, fmt.Sprintf("names-%d.eml", i))
		msg := mailcorpus.Message("names", mailcorpus.Multipart("b", mailcorpus.Leaf(h+"\r\nContent-Transfer-Encoding: base64", mailcorpus.B64([]byte(mailcorpus.Script)))))
		if err := os.WriteFile(p, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

// walked is what the walker scanned of one message: every item's bytes,
// and those of the items scanned flat past a limit.
type walked struct {
	items     map[string]bool // every item's bytes, as is and normalized (norm)
	flat      [][]byte        // normalized
	malformed [][]byte
	names     map[string]bool // every name declared for an item
}

// norm makes text comparable: CRLF as LF, NUL as a space, and no last
// line end. Python's email gives text parts with LF line ends, ripmime
// writes NUL in text as a space and keeps the line end before a
// boundary, which belongs to the boundary (RFC 2046 5.1.1).
func norm(b []byte) []byte {
	b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte{0}, []byte(" "))
	return bytes.TrimSuffix(b, []byte("\n"))
}

// has: an item has exactly data (or as norm makes it), or a flat item
// (past a limit) holds it, or, for broken base64, the walker's lenient
// decoding starts with it.
func (w walked) has(data []byte) bool {
	if w.items[string(data)] || w.items[string(norm(data))] {
		return true
	}
	for _, m := range w.malformed {
		if len(data) > 0 && bytes.HasPrefix(m, data) {
			return true
		}
	}
	d := norm(data)
	for _, f := range w.flat {
		if len(d) > 0 && bytes.Contains(f, d) {
			return true
		}
	}
	return false
}

func walkFile(t *testing.T, p string) walked {
	msg, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	w := walked{items: map[string]bool{}, names: map[string]bool{}}
	_, err = Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), Limits{}, func(it *Item) error {
		b, err := io.ReadAll(io.NewSectionReader(it.Data, 0, it.Data.Size()))
		w.items[string(b)], w.items[string(norm(b))] = true, true
		for _, n := range it.Names {
			w.names[n] = true
		}
		if it.DepthLimited {
			w.flat = append(w.flat, norm(b))
		}
		if it.Malformed {
			w.malformed = append(w.malformed, b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestDifferentialPython: every part Python's email package decodes from
// the corpus, the walker scanned with the same bytes (with the limits'
// defaults, those of the example config).
func TestDifferentialPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is in .ci/packages: ", err)
	}
	files := diffCorpus(t)
	out, err := exec.Command(py, append([]string{"../testdata/differential/pyextract.py"}, files...)...).Output()
	if err != nil {
		t.Fatalf("pyextract: %v", err)
	}
	var got map[string][]struct {
		Name string
		Data []byte
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, f := range files {
		w := walkFile(t, f)
		for _, p := range got[f] {
			n++
			if !w.has(p.Data) {
				t.Errorf("%s: Python's email extracts %q (%d bytes, %q…) that the walker did not scan", filepath.Base(f), p.Name, len(p.Data), p.Data[:min(len(p.Data), 40)])
			}
			// The name Python gives it (compat32 leaves RFC 2047 words
			// encoded) is one the rules see: rules match scripts by name.
			dec, _ := wordDecoder.DecodeHeader(p.Name)
			if p.Name != "" && !w.names[p.Name] && !w.names[strings.TrimSpace(dec)] {
				t.Errorf("%s: Python's email names a part %q, a name the walker did not give any item", filepath.Base(f), p.Name)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d parts compared", n)
	}
}

// TestDifferentialRipMIME: every file ripmime (Debian's) extracts from the
// corpus, the walker scanned with the same bytes.
func TestDifferentialRipMIME(t *testing.T) {
	rip, err := exec.LookPath("ripmime")
	if err != nil {
		t.Fatal("ripmime is in .ci/packages: ", err)
	}
	// ripmime writes a file per part: 10000 of them take 14 s on a disk,
	// 1 s in memory.
	base := t.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "ripmime"); err == nil {
		base = d
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	var n int
	for i, f := range diffCorpus(t) {
		dir := filepath.Join(base, fmt.Sprint(i))
		os.Mkdir(dir, 0o755)
		if out, err := exec.Command(rip, "-i", f, "-d", dir, "--timeout", "60").CombinedOutput(); err != nil {
			t.Errorf("%s: ripmime: %v: %s", f, err, out)
			continue
		}
		w := walkFile(t, f)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(data) == 0 {
				continue // an empty part: nothing to scan
			}
			n++
			if !w.has(data) {
				t.Errorf("%s: ripmime extracts %q (%d bytes, %q…) that the walker did not scan", filepath.Base(f), e.Name(), len(data), data[:min(len(data), 40)])
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d files compared", n)
	}
}
