package mimewalk

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// xzOf compresses data with Debian's xz and the given options.
func xzOf(t *testing.T, data []byte, opts ...string) []byte {
	t.Helper()
	cmd := exec.Command("xz", append([]string{"-c"}, opts...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", opts, err)
	}
	return out
}

// walkXZ walks a message with the .xz files attached in one zip and
// returns the members read (by their content), the unopened findings and
// the bytes allocated.
func walkXZ(t *testing.T, files [][]byte) (read []string, unopened int, alloc uint64) {
	t.Helper()
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for i, f := range files {
		w, err := zw.Create(fmt.Sprintf("f%03d.txt.xz", i))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f)
	}
	zw.Close()
	msg := attached("xz", "application/zip", "logs.zip", z.Bytes())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	findings, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), Limits{SpoolDir: t.TempDir()}, func(it *Item) error {
		if strings.HasSuffix(it.ArchivePath, ".txt") {
			read = append(read, string(readAll(t, it)))
		}
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		if f.Kind == "unopened" && strings.Contains(f.Detail, "xz:") {
			unopened++
		}
	}
	return read, unopened, after.TotalAlloc - before.TotalAlloc
}

// An .xz declaring a dictionary of 1.5 GiB for 64 bytes (xz
// --lzma2=dict=1536MiB) is not decoded: github.com/ulikunitz/xz allocates
// the declared dictionary whole (a zip of 200 cost 307 GiB allocated,
// 3.1 GB resident, 52 s). Unopened, it is held as any archive the walk
// cannot read; xz -9's 64 MiB, several blocks and concatenated streams
// with padding are read as before.
func TestReviewXZDictionary(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Fatal("xz (Debian's xz-utils) is needed")
	}
	// Text that compresses little, so no ratio bound cuts it.
	var text []byte
	for i := range 3000 {
		text = fmt.Appendf(text, "line %d %x\n", i, uint32(i)*2654435761)
	}
	huge := xzOf(t, []byte("file 1\n"), "--lzma2=dict=1536MiB")
	bomb := make([][]byte, 50)
	for i := range bomb {
		bomb[i] = huge
	}
	read, unopened, alloc := walkXZ(t, bomb)
	if len(read) != 0 || unopened != 50 || alloc > 256<<20 {
		t.Errorf("50 xz of a 1.5 GiB dictionary: %d read, %d unopened (want 0, 50), %d MiB allocated", len(read), unopened, alloc>>20)
	}

	// The huge one after a small one in concatenated streams, padded.
	small := xzOf(t, text, "-6")
	cat := append(append(append([]byte{}, small...), 0, 0, 0, 0), huge...)
	if read, unopened, _ := walkXZ(t, [][]byte{cat}); len(read) != 0 || unopened != 1 {
		t.Errorf("a huge dictionary in a second stream: %d read, %d unopened (want 0, 1)", len(read), unopened)
	}

	multi := xzOf(t, text, "-T2", "--block-size=4KiB")
	if n := bytes.Count(multi, []byte("\xfd7zXZ")); n != 1 {
		t.Fatalf("xz -T2 wrote %d streams", n)
	}
	padded := append(append(append([]byte{}, small...), 0, 0, 0, 0, 0, 0, 0, 0), small...)
	read, unopened, _ = walkXZ(t, [][]byte{xzOf(t, text, "-9"), multi, padded})
	want := []string{string(text), string(text), string(text) + string(text)}
	if unopened != 0 || fmt.Sprint(read) != fmt.Sprint(want) {
		t.Errorf("xz -9, several blocks, two padded streams: %d unopened, read %d members (want 3, intact)", unopened, len(read))
		for i := range read {
			t.Logf("%d: %d bytes, want %d", i, len(read[i]), len(want[min(i, 2)]))
		}
	}

	// A file whose index lies is not read.
	bad := append([]byte{}, small...)
	bad[len(bad)-12+4]++ // the footer's backward size
	if _, unopened, _ := walkXZ(t, [][]byte{bad}); unopened != 1 {
		t.Errorf("an xz whose footer misplaces its index: %d unopened, want 1", unopened)
	}
}

// xzMaxDict reads untrusted bytes: it must neither panic nor read past
// them, whatever they claim.
func FuzzXZMaxDict(f *testing.F) {
	f.Add([]byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46\x02\x00\x21\x01\x16\x00\x00\x00\x74\x2f\xe5\xa3\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x11\x00\x00\x00\x00\x00\x00\x00\x00\x04\x59\x5a"))
	f.Add([]byte("\x00\x00\x00\x00YZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		xzMaxDict(bytes.NewReader(b), int64(len(b)))
	})
}
