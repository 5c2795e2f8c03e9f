package mimewalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"outguard/internal/mailcorpus"
)

// TestReviewDeadlineInsideMember: the walk looked at its context only
// between MIME parts, so one archive member that decodes slowly (here
// 256 MiB of zeros: some 50 KB of 7z or xz, 250 KB of zip or gzip,
// within budgets an operator may set) held a core until it was decoded
// whole, past message_timeout, and the walk then returned no error: a
// pass as scanned. Now the decoders' reads look at ctx: the walk stops
// inside the member, says so (a limit finding), and returns ctx's error,
// which the pipeline turns into the check's on_error.
func TestReviewDeadlineInsideMember(t *testing.T) {
	f := newFixture(t)
	f.zeros("z.bin", 256<<20)
	cases := []struct{ name, ctype string }{
		{"z.7z", "application/x-7z-compressed"},
		{"z.zip", "application/zip"},
		{"z.bin.xz", "application/x-xz"},
		{"z.bin.gz", "application/gzip"},
	}
	arcs := [][]byte{
		f.sevenZip("z.7z", []string{"-mx1", "-m0=lzma2"}, "z.bin"),
		f.pack("z.zip", "zip", "-q", "-9", "z.zip", "z.bin"),
		f.pack("z.bin.xz", "xz", "-k", "-1", "-T1", "z.bin"),
		f.pack("z.bin.gz", "gzip", "-k", "-9", "z.bin"),
	}
	// Budgets wide enough that only time can end the member.
	lim := Limits{SpoolDir: t.TempDir(), MaxRatio: 1 << 20, MaxPart: 1 << 30, MaxTotal: 1 << 31}
	for i, c := range cases {
		msg := attached("slow", c.ctype, c.name, arcs[i])
		ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errors.New("message_timeout (50ms) passed"))
		member := int64(-1)
		start := time.Now()
		findings, err := Walk(ctx, bytes.NewReader(msg), int64(len(msg)), lim, func(it *Item) error {
			if it.ArchivePath != "" {
				member = it.Data.Size()
			}
			return nil
		})
		took := time.Since(start)
		t.Logf("%s: stopped after %v: %v %+v", c.name, took, err, findings)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "message_timeout") {
			t.Errorf("%s: the walk past its deadline returned %v (after %v), want the deadline's error", c.name, err, took)
		}
		if member >= 0 {
			t.Errorf("%s: the member was decoded whole (%d bytes) past the deadline (%v)", c.name, member, took)
		}
		// On the member (the deadline passed as it was decoded), or on the
		// archive when a slow machine got there late.
		var limit bool
		for _, a := range findings {
			limit = limit || a.Kind == "limit" && strings.HasPrefix(a.Path, "1.2") && strings.Contains(a.Detail, "message_timeout")
		}
		if !limit {
			t.Errorf("%s: no limit finding on the member: %+v", c.name, findings)
		}
	}
}

// TestReviewDeadlineNormalArchive: an archive that decodes well within
// the deadline is walked as before: every member read, no finding.
func TestReviewDeadlineNormalArchive(t *testing.T) {
	f := newFixture(t)
	f.file("a.exe", mailcorpus.PE())
	var text []byte
	for i := range 3000 {
		text = fmt.Appendf(text, "line %d %x\n", i, uint32(i)*2654435761)
	}
	f.file("b.txt", text)
	for _, c := range []struct {
		name, ctype string
		arc         []byte
	}{
		{"a.7z", "application/x-7z-compressed", f.sevenZip("a.7z", []string{"-ms=on", "-m0=lzma2"}, "a.exe", "b.txt")},
		{"a.zip", "application/zip", f.pack("a.zip", "zip", "-q", "a.zip", "a.exe", "b.txt")},
	} {
		msg := attached("normal", c.ctype, c.name, c.arc)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var types []string
		findings, err := Walk(ctx, bytes.NewReader(msg), int64(len(msg)), Limits{SpoolDir: t.TempDir()}, func(it *Item) error {
			if it.ArchivePath != "" {
				types = append(types, it.ArchivePath+":"+it.FileType)
			}
			return nil
		})
		cancel()
		if err != nil || len(findings) > 0 || len(types) != 2 || !strings.Contains(strings.Join(types, " "), "a.exe:"+TypePE) {
			t.Errorf("%s: members %v, findings %+v, %v", c.name, types, findings, err)
		}
	}
}

// TestReviewDeadlineSolid7zSkip: reaching the second member of a solid
// 7z decodes the rest of the first inside the library (here 127 MiB of
// zeros past the 1 MiB max_part kept of it), with no output read: only
// the library's reads of the packed bytes can see the deadline, and it
// read them 4 KiB at a time, some 30 MiB of zeros decoded between two
// looks (15% of the whole walk's time here). Read in 1 KiB pieces, 7 MiB
// (2%). The ratio is to the whole walk's time in this run (a loaded
// machine slows both): stopped within a sixteenth of it.
func TestReviewDeadlineSolid7zSkip(t *testing.T) {
	f := newFixture(t)
	f.zeros("a.txt", 128<<20)
	f.file("b.exe", mailcorpus.PE())
	msg := attached("skip", "application/x-7z-compressed", "a.7z", f.sevenZip("a.7z", []string{"-ms=on", "-m0=lzma2"}, "a.txt", "b.exe"))
	lim := Limits{SpoolDir: t.TempDir(), MaxRatio: 1 << 30, MaxPart: 1 << 20, MaxTotal: 1 << 31}
	start := time.Now()
	if _, err := Walk(context.Background(), bytes.NewReader(msg), int64(len(msg)), lim, func(*Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	whole := time.Since(start)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var ended time.Time
	_, err := Walk(ctx, bytes.NewReader(msg), int64(len(msg)), lim, func(it *Item) error {
		if it.ArchivePath == "a.7z/a.txt" {
			// The deadline passes as the library skips to b.exe.
			time.AfterFunc(20*time.Millisecond, func() { ended = time.Now(); cancel(errors.New("message_timeout passed")) })
		}
		return nil
	})
	lag := time.Since(ended)
	if err == nil || !strings.Contains(err.Error(), "message_timeout") || ended.IsZero() {
		t.Fatalf("the walk past its deadline: %v", err)
	}
	if lag > whole/16 {
		t.Errorf("the walk ran on %v past its deadline; the whole walk takes %v", lag, whole)
	}
	t.Logf("stopped %v after the deadline; the whole walk %v", lag, whole)
}
