package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// writeAtomic replaces name with data so that a crash at any point leaves
// either the old file or the whole new one, never a part: a temporary
// file in the same directory, fsynced, renamed over name, and the
// directory fsynced (the rename is durable). Readers of the files other
// programs consume (nft, Postfix, the resolvers) thus never see half a
// list.
func writeAtomic(name string, data []byte, mode os.FileMode) error {
	d := filepath.Dir(name)
	if err := os.MkdirAll(d, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(d, "."+filepath.Base(name)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a failure; gone after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	df, err := os.Open(d)
	if err != nil {
		return err
	}
	defer df.Close()
	return df.Sync()
}

// lock holds an exclusive lock on dir/name until the returned function is
// called: two runs at once (the timer's scan and an operator's relayprobe
// block) would otherwise both read the old state and both act on it. The
// wait ends with ctx: the other run may hold the lock for minutes (a
// backend that hangs until block.timeout), and SIGTERM must still end
// this one.
func lock(ctx context.Context, dir, name string) (func(), error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases it
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s held by another run: %w", filepath.Join(dir, name), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
