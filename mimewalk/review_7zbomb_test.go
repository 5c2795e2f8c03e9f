package mimewalk

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"outguard/internal/mailcorpus"
)

// TestReview7zSkipBomb: in a solid 7z, reaching a member decodes every
// member before it in its folder, read or not. A member expanding far
// past max_ratio was cut at the ratio, but the walk then opened the next
// one, and the library decoded the rest of the first to get there: a
// 625 KB attachment holding 4 GiB of zeros then a file kept a core busy
// 53 s (the walk does not look at its context inside an archive, so
// message_timeout did not end it), 10 MB some 15 minutes. The members
// past max_ratio x the archive's size (their declared sizes, which bound
// what the library decodes) are not read: a limit, and the archive
// counts as unopened. Here 64 MiB of zeros (some 10 KB packed, a 1 MB
// budget at max_ratio 100), then a program.
func TestReview7zSkipBomb(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b.exe"), mailcorpus.PE(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command("7z", "a", "-bd", "-y", "-ms=on", "-m0=lzma2", "a.7z", "a.txt", "b.exe")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("7z: %v: %s", err, out)
	}
	arc, err := os.ReadFile(filepath.Join(dir, "a.7z"))
	if err != nil {
		t.Fatal(err)
	}
	msg := mailcorpus.Message("bomb", mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "See attached.\r\n"),
		mailcorpus.Attach("application/x-7z-compressed", "a.7z", arc)))
	var exe *Item
	findings, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), Limits{SpoolDir: t.TempDir()}, func(it *Item) error {
		if it.ArchivePath == "a.7z/b.exe" {
			exe = it
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if exe != nil {
		t.Errorf("the member past the expansion budget was read (as %q): the library decoded 64 MiB to reach it", exe.FileType)
	}
	var limit, unopened bool
	for _, f := range findings {
		limit = limit || f.Kind == "limit" && f.Path == "1.2" && bytes.Contains([]byte(f.Detail), []byte("expand"))
		unopened = unopened || f.Kind == "unopened" && f.Path == "1.2"
	}
	if !limit || !unopened {
		t.Errorf("no expansion limit and unopened finding on the archive: %+v", findings)
	}
}
