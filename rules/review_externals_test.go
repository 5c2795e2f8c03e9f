package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Issue #32 review: a pooled scanner keeps its externals across messages
// and sets one again only when it changes. With the SHIPPED rules, every
// golden message scanned right after every other one (filenames, content
// types, names, is_attachment, encrypted... of the one before still set
// in the scanner) must give exactly what it gives on a scanner of its own;
// so must the account and envelope sender, changed between messages.
func TestReviewExternalsAcrossMessages(t *testing.T) {
	files, _ := filepath.Glob("../testdata/messages/*.eml")
	if len(files) < 15 {
		t.Fatalf("%d golden messages", len(files))
	}
	data := make([][]byte, len(files))
	for i, f := range files {
		data[i], _ = os.ReadFile(f)
	}
	users := [][2]string{{"alice", "alice@customer.test"}, {"", ""}, {"bob", "bob@other.test"}}
	scan := func(e *Engine, i, u int) string {
		res, err := e.Scan(context.Background(), bytes.NewReader(data[i]), int64(len(data[i])), users[u][0], users[u][1])
		if err != nil {
			t.Fatalf("%s: %v", files[i], err)
		}
		b, _ := json.Marshal(summarize(e, res))
		return string(b)
	}
	// Each message alone, on a scanner of its own: the pool drained first.
	e := shipped(t)
	set := e.set.Load()
	fresh := make([]string, len(files))
	for i := range files {
		for set.scanners.Get() != nil {
		}
		fresh[i] = scan(e, i, i%len(users))
	}
	// Each message after six others (every pair would be minutes under
	// -race on this machine).
	for a := range files {
		for _, d := range []int{1, 2, 3, 5, 8, 13} {
			b := (a + d) % len(files)
			scan(e, a, (a+1)%len(users))
			if got := scan(e, b, b%len(users)); got != fresh[b] {
				t.Errorf("%s after %s:\n got %s\nwant %s", filepath.Base(files[b]), filepath.Base(files[a]), got, fresh[b])
			}
		}
	}
}
