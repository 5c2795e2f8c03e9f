package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue #32 review: a pooled scanner keeps its externals across messages
// and sets one again only when it changes. With the SHIPPED rules, every
// golden message scanned right after others (the filenames, content
// types, names, is_attachment, encrypted... of their last items still set
// in the scanner, and another account and sender) must give exactly its
// golden summary (.want, what TestGoldenMessages checks it alone against).
func TestReviewExternalsAcrossMessages(t *testing.T) {
	files, _ := filepath.Glob("../testdata/messages/*.eml")
	if len(files) < 15 {
		t.Fatalf("%d golden messages", len(files))
	}
	data, want := make([][]byte, len(files)), make([]string, len(files))
	for i, f := range files {
		data[i], _ = os.ReadFile(f)
		w, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".want")
		if err != nil {
			t.Fatal(err)
		}
		want[i] = strings.TrimSuffix(string(w), "\n")
	}
	e := shipped(t)
	scan := func(i int, user, from string) string {
		res, err := e.Scan(context.Background(), bytes.NewReader(data[i]), int64(len(data[i])), user, from)
		if err != nil {
			t.Fatalf("%s: %v", files[i], err)
		}
		b, _ := json.MarshalIndent(summarize(e, res), "", "  ")
		return string(b)
	}
	// Each message after six others (every pair would be minutes under
	// -race on this machine), as the goldens are scanned: alice.
	for a := range files {
		for _, d := range []int{1, 2, 3, 5, 8, 13} {
			b := (a + d) % len(files)
			scan(a, "bob", "bob@other.test")
			if got := scan(b, "alice", "alice@customer.test"); got != want[b] {
				t.Errorf("%s after %s:\n got %s\nwant %s", filepath.Base(files[b]), filepath.Base(files[a]), got, want[b])
			}
		}
	}
}
