package mimewalk

import (
	"bytes"
	"context"
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
	f := newFixture(t)
	f.file("b.exe", mailcorpus.PE())
	f.zeros("a.txt", 64<<20)
	msg := attached("bomb", "application/x-7z-compressed", "a.7z", f.sevenZip("a.7z", []string{"-ms=on", "-m0=lzma2"}, "a.txt", "b.exe"))
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
