package mimewalk

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"outguard/internal/mailcorpus"
)

// fixture is a directory of files that Debian's archivers (7z, zip, xz,
// gzip) pack at test time: no archive is committed.
type fixture struct {
	t   *testing.T
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return &fixture{t: t, dir: t.TempDir()}
}

// file writes name with data.
func (f *fixture) file(name string, data []byte) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// zeros writes name as size zero bytes (sparse: nothing is written).
func (f *fixture) zeros(name string, size int64) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(f.dir, name), size); err != nil {
		f.t.Fatal(err)
	}
}

// pack runs tool with args in the directory and returns the archive it
// wrote there, out.
func (f *fixture) pack(out, tool string, args ...string) []byte {
	f.t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Dir = f.dir
	if b, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("%s %v: %v: %s", tool, args, err, b)
	}
	arc, err := os.ReadFile(filepath.Join(f.dir, out))
	if err != nil {
		f.t.Fatal(err)
	}
	return arc
}

// sevenZip packs names into out with 7z a and the given switches.
func (f *fixture) sevenZip(out string, switches []string, names ...string) []byte {
	f.t.Helper()
	return f.pack(out, "7z", append(append(append([]string{"a", "-bd", "-y"}, switches...), out), names...)...)
}

// attached is a message with a short text and arc attached as name.
func attached(subject, ctype, name string, arc []byte) []byte {
	return mailcorpus.Message(subject, mailcorpus.Multipart("b", mailcorpus.Leaf("Content-Type: text/plain", "See attached.\r\n"),
		mailcorpus.Attach(ctype, name, arc)))
}
