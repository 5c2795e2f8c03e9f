package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"outguard/config"
)

// asStateOwner makes milterctl do its work as the user milterd runs as.
//
// Run as root (sudo milterctl …), it switches to the owner of state_dir
// before it opens anything, so the files it creates there (SQLite's -wal
// and -shm, quarantine files, audit.log) stay writable by milterd. Run as
// anyone else, it checks the access it needs and names what is missing,
// instead of failing later with a bare "permission denied".
func asStateOwner(cfg *config.Config) error {
	dirs := []string{}
	if cfg.Limits != nil && cfg.Limits.Store == "sqlite" {
		dirs = append(dirs, cfg.StateDir)
	}
	if q := cfg.Quarantine; q != nil {
		// A shared quarantine still has the local one it was migrated
		// from, if any, that migrate reads.
		if _, err := os.Stat(cfg.QuarantineDir()); q.Store == "local" || err == nil {
			dirs = append(dirs, cfg.QuarantineDir())
		}
	}
	if len(dirs) == 0 {
		return nil // all state is in a shared store
	}
	fi, err := os.Stat(dirs[0])
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: start milterd once (it creates it as its own user), then run milterctl again", dirs[0])
	}
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if os.Geteuid() == 0 {
		if st.Uid == 0 {
			return nil // milterd runs as root here: nothing to switch to
		}
		return switchTo(st.Uid)
	}
	for _, d := range dirs {
		if err := syscall.Access(d, 7); err != nil { // R_OK|W_OK|X_OK
			owner := strconv.Itoa(int(st.Uid))
			if u, err := user.LookupId(owner); err == nil {
				owner = u.Username
			}
			return fmt.Errorf("no read/write access to %s (owned by %s, mode %v): run milterctl as %s, or as root (it then switches to %s)", d, owner, fi.Mode().Perm(), owner, owner)
		}
	}
	return nil
}

// switchTo drops root for uid, with its primary and supplementary groups.
// Go applies set*id to every thread of the process (Linux, Go ≥ 1.16).
func switchTo(uid uint32) error {
	u, err := user.LookupId(strconv.Itoa(int(uid)))
	if err != nil {
		return fmt.Errorf("state_dir's owner: %w", err)
	}
	gids := []int{}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil {
				gids = append(gids, n)
			}
		}
	}
	gid, _ := strconv.Atoi(u.Gid)
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("switching to %s: %w", u.Username, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("switching to %s: %w", u.Username, err)
	}
	if err := syscall.Setuid(int(uid)); err != nil {
		return fmt.Errorf("switching to %s: %w", u.Username, err)
	}
	return nil
}
