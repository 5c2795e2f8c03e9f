// Package golden checks test fixtures against the exact output they must
// give: bad config files against the error in their .err files.
package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BadConfigs parses every file of pattern (as a file named name) and wants
// it refused with exactly the message of the .err file beside it; update
// rewrites the .err files instead.
func BadConfigs(t *testing.T, pattern, name string, parse func(name string, data []byte) error, update bool) {
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			err = parse(name, data)
			if err == nil {
				t.Fatal("accepted")
			}
			errFile := strings.TrimSuffix(f, ".yaml") + ".err"
			if update {
				os.WriteFile(errFile, []byte(err.Error()+"\n"), 0o644)
				return
			}
			want, _ := os.ReadFile(errFile)
			if got := err.Error(); got != strings.TrimSpace(string(want)) {
				t.Errorf("error\n got %s\nwant %s", got, want)
			}
		})
	}
}
