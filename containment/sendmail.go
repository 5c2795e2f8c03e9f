package containment

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Sendmail is a Sendmail queue. Sendmail holds mail by quarantining it
// (sendmail(8) -Q): "-Qreason -qIid" renames the job's qf file to hf,
// and no queue run delivers it; "-Q -qQ -qIid" puts it back. It has no
// command to delete a job: a held job's files (hf, df, xf) are removed.
// Its queue directory is root's (0700), so listing, like acting, needs
// root: milterd running as root, or milterctl accounts contain as root.
type Sendmail struct {
	Config string // sendmail.cf
	// Command is the argv that runs sendmail (nil: "sendmail"); the
	// tests run it in a UTS namespace of its own.
	Command []string
}

// Reason is what held mail is quarantined with (mailq -qQ shows it).
const Reason = "outguard: account suspended"

// List reads the queue directories named by the .cf's QueueDirectory
// (a glob for several queues; each may have a qf subdirectory): qf files
// are queued jobs ("queue"), hf files quarantined ones (HoldQueue).
func (s *Sendmail) List(ctx context.Context) (map[string]string, error) {
	dirs, err := s.queueDirs()
	if err != nil {
		return nil, err
	}
	q := map[string]string{}
	for _, d := range dirs {
		ents, err := os.ReadDir(d.qf)
		if err != nil {
			return nil, fmt.Errorf("sendmail queue: %w", err)
		}
		for _, e := range ents {
			switch n := e.Name(); {
			case strings.HasPrefix(n, "qf"):
				q[n[2:]] = "queue"
			case strings.HasPrefix(n, "hf"):
				q[n[2:]] = HoldQueue
			}
		}
	}
	return q, nil
}

func (s *Sendmail) Hold(ctx context.Context, ids []string) error {
	return s.each(ctx, ids, "-Q"+Reason)
}

func (s *Sendmail) Release(ctx context.Context, ids []string) error {
	return s.each(ctx, ids, "-Q", "-qQ")
}

// Delete quarantines the jobs first, so that no queue run starts one
// while its files go, then removes them. A job being delivered at the
// moment (locked) is not quarantined: it is reported, and the next sweep
// tries again.
func (s *Sendmail) Delete(ctx context.Context, ids []string) error {
	if err := s.Hold(ctx, ids); err != nil {
		return err
	}
	dirs, err := s.queueDirs()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		found := false
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d.qf, "hf"+id)); err != nil {
				continue
			}
			found = true
			// hf last: while it exists the job is still listed.
			for _, f := range []string{filepath.Join(d.df, "df"+id), filepath.Join(d.xf, "xf"+id), filepath.Join(d.qf, "hf"+id)} {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("sendmail queue: %s not held, not deleted", id))
		}
	}
	return errors.Join(errs...)
}

// each runs sendmail with args on each id: -qI matches a substring of
// the queue id, so each job is named alone and whole (a Sendmail queue
// id has a fixed length: a whole id is no other's substring).
func (s *Sendmail) each(ctx context.Context, ids []string, args ...string) error {
	argv := append(append(append([]string{}, s.command()...), "-C", s.Config), args...)
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, "/ \t\n") {
			return fmt.Errorf("sendmail queue: bad queue id %q", id)
		}
		cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "-qI"+id)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s -qI%s: %v: %s", strings.Join(argv, " "), id, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func (s *Sendmail) command() []string {
	if len(s.Command) > 0 {
		return s.Command
	}
	return []string{"sendmail"}
}

// queueDir is one queue's directories: its qf, df and xf subdirectories
// where it has them, otherwise the queue directory itself.
type queueDir struct{ qf, df, xf string }

// queueDirs are the queues of the .cf's QueueDirectory option
// ("O QueueDirectory=/var/spool/mqueue", maybe a glob "…/q*").
func (s *Sendmail) queueDirs() ([]queueDir, error) {
	f, err := os.Open(s.Config)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pattern := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "O QueueDirectory="); ok {
			pattern = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pattern == "" {
		return nil, fmt.Errorf("%s: no QueueDirectory option", s.Config)
	}
	bases, err := filepath.Glob(pattern)
	if err != nil || len(bases) == 0 {
		return nil, fmt.Errorf("%s: QueueDirectory %s: no such directory", s.Config, pattern)
	}
	sub := func(base, name string) string {
		if st, err := os.Stat(filepath.Join(base, name)); err == nil && st.IsDir() {
			return filepath.Join(base, name)
		}
		return base
	}
	var dirs []queueDir
	for _, b := range bases {
		dirs = append(dirs, queueDir{sub(b, "qf"), sub(b, "df"), sub(b, "xf")})
	}
	return dirs, nil
}
