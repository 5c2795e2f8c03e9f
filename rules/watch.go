package rules

import (
	"context"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch recompiles the rules under dir when a file there changes
// (debounced), and swaps the new set in; when it fails to compile, the
// running set stays and the errors are logged with file:line.
func (e *Engine) Watch(ctx context.Context, dir string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			w.Add(p)
		}
		return nil
	})
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			if ev.Has(fsnotify.Create) {
				w.Add(ev.Name) // a new subdirectory; harmless for files
			}
			timer = time.After(300 * time.Millisecond) // editors write in several steps
		case err := <-w.Errors:
			e.Log.Warn("watching rules", "dir", dir, "err", err)
		case <-timer:
			timer = nil
			e.Reload(dir)
		}
	}
}

// Reload compiles dir and swaps the set in if it compiles.
func (e *Engine) Reload(dir string) bool {
	set, err := Compile(dir)
	if err != nil {
		e.Log.Error("rules reload failed; keeping the running rules", "dir", dir, "version", e.Set().Version, "err", err)
		if e.Observer != nil {
			e.Observer.RulesLoaded("", false)
		}
		return false
	}
	if e.Observer != nil {
		e.Observer.RulesLoaded(set.Version, true)
	}
	old := e.Set().Version
	e.Swap(set)
	e.Log.Info("rules reloaded", "dir", dir, "version", set.Version, "previous", old, "rules", len(set.Info), "warnings", len(set.Warnings))
	for _, w := range set.Warnings {
		e.Log.Warn("rules: " + w)
	}
	return true
}
