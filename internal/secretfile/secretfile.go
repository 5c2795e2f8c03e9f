// Package secretfile reads the files of random bytes outguard's keys are
// made from (the complaint reference keys): one check of their mode and
// size for every such file.
package secretfile

import (
	"fmt"
	"os"
)

// Read is the content of the file at path, which must be a regular file
// nobody but its owner (and group, to read) can use, holding exactly size
// bytes: a key others can read is no secret. what names the file in
// errors ("key").
func Read(path, what string, size int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if m := fi.Mode(); !m.IsRegular() || m.Perm()&0o027 != 0 {
		return nil, fmt.Errorf("%s: mode %v: a %s file must be a regular file nobody but its owner (and group, to read) can use (chmod 0600 or 0640)", path, m.Perm(), what)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) != size {
		return nil, fmt.Errorf("%s: %d bytes: a %s file holds exactly %d random bytes (head -c %d /dev/urandom)", path, len(raw), what, size, size)
	}
	return raw, nil
}
