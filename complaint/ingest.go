package complaint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"outguard/limits"
)

// Recorder records a complaint: the limits engine (limits.Engine.Complaint),
// which counts it and suspends.
type Recorder interface {
	Complaint(ctx context.Context, c limits.Complaint) (bool, *limits.Suspension, error)
}

// Ingester reads complaint reports and records them.
type Ingester struct {
	Keys   Keys
	Header string
	// FBL says which reports count: one not authenticated as a trusted
	// feedback loop's is kept and listed, counted for no one.
	FBL    FeedbackLoops
	Record Recorder
	Now    func() time.Time
}

// Result is what became of one report.
type Result struct {
	Complaint  limits.Complaint
	New        bool               // false: the same complaint was recorded before
	Suspension *limits.Suspension // made by this complaint
	// Dropped: an unattributable report over limits.MaxUnattributable of
	// the day, not recorded (the abuse mailbox has it).
	Dropped bool
}

// MaxCountedAge bounds how old a message may be for a complaint about it
// to count: feedback loops report within minutes or hours of delivery
// (Microsoft's JMRP, Yahoo's CFL), people forward spam within days.
const MaxCountedAge = 3 * 24 * time.Hour

// keptReport is how much of an unattributable report is kept in the store.
const keptReport = 64 << 10

// Ingest reads one report from r (at most MaxReportSize bytes are used)
// and records it. An error means nothing was recorded (the store did not
// answer, the report could not be read): the caller keeps the report and
// tries again (exit 75 for Postfix's pipe).
func (in *Ingester) Ingest(ctx context.Context, r io.Reader) (Result, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxReportSize+1))
	if err != nil {
		return Result{}, fmt.Errorf("reading the report: %w", err)
	}
	if len(raw) > MaxReportSize {
		// The rest is read and dropped: a pipe writer must not block.
		io.Copy(io.Discard, r)
	}
	c := in.Attribute(raw)
	if c.Account != "" {
		if err := in.authenticate(ctx, raw, &c); err != nil {
			return Result{}, err
		}
	}
	added, susp, err := in.Record.Complaint(ctx, c)
	if errors.Is(err, limits.ErrUnattributableFull) {
		// Not an error: delivered again later it would only add to the
		// flood (exit 75 keeps it in Postfix's queue).
		return Result{Complaint: c, Dropped: true}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("recording the complaint: %w", err)
	}
	return Result{Complaint: c, New: added, Suspension: susp}, nil
}

// Attribute parses raw and verifies its references: the first that
// verifies names the account; none that does makes it unattributable.
func (in *Ingester) Attribute(raw []byte) limits.Complaint {
	rep := Parse(raw, in.Header)
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	c := limits.Complaint{
		Time: now(), Kind: rep.Kind, Feedback: clean(rep.FeedbackType), Reporter: clean(rep.From),
		Subject: clean(rep.OriginalSubject), Rcpt: clean(rep.OriginalRcpt), Arrival: clean(rep.ArrivalDate),
	}
	if c.Subject == "" {
		c.Subject = clean(rep.Subject)
	}
	var why []string
	for _, v := range rep.Refs {
		ref, err := in.Keys.Open(v)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		c.ID = "msg:" + ref.Host + ":" + ref.QueueID
		c.Account, c.Host, c.QueueID, c.Sent = ref.Account, ref.Host, ref.QueueID, ref.Time
		if age := c.Time.Sub(ref.Time); age > MaxCountedAge {
			// A reference is a token anyone who received the mail keeps:
			// replayed long after (or a backlog), it says nothing about
			// what the account sends today. Kept, named, not counted.
			c.Account = ""
			c.Problem = fmt.Sprintf("reference of %s sent %s, more than %v before: not counted", clean(ref.Account), ref.Time.UTC().Format(time.RFC3339), MaxCountedAge)
		}
		for _, v := range rep.Own {
			// Sent through our own smarthost: one customer reporting
			// another's mail (or writing reports to get them
			// suspended). For the abuse desk to judge, never counted.
			if by, err := in.Keys.Open(v); err == nil {
				c.Account = ""
				c.Problem = fmt.Sprintf("reported by our own customer %s (%s %s) about %s: not counted", clean(by.Account), clean(by.Host), clean(by.QueueID), clean(ref.Account))
				break
			}
		}
		if c.Account == "" {
			// Counted for no one: kept under the report's own identity,
			// as a forgery is (authenticate), so that it does not stand
			// in for a genuine report about the message that comes later.
			c.ID, c.Report = rawID(raw), keep(raw)
		}
		return c
	}
	c.ID = rawID(raw)
	switch {
	case len(why) > 0:
		c.Problem = "reference " + strings.Join(dedup(why), "; ")
	default:
		c.Problem = "no reference found"
	}
	if len(rep.Problems) > 0 {
		c.Problem += " (" + strings.Join(rep.Problems, "; ") + ")"
	}
	c.Report = keep(raw)
	return c
}

// authenticate keeps c's account only when the report comes from a
// trusted feedback loop. Otherwise the report is anyone's: someone who
// received an account's mail could write reports quoting its genuine
// references and get it suspended. It is kept under its own identity (the
// report's digest, not the message's: it must not stand in for a genuine
// report about the same message that comes later), with its text.
func (in *Ingester) authenticate(ctx context.Context, raw []byte, c *limits.Complaint) error {
	fbl, err := in.FBL.Authenticate(ctx, raw)
	if errors.Is(err, ErrKeyUnavailable) {
		return err
	}
	if err == nil {
		c.FBL = fbl
		return nil
	}
	c.Problem = fmt.Sprintf("not from a trusted feedback loop (%v): reference of %s (%s %s) not counted", err, clean(c.Account), c.Host, c.QueueID)
	c.Account, c.ID = "", rawID(raw)
	c.Report = keep(raw)
	return nil
}

func rawID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "raw:" + hex.EncodeToString(sum[:16])
}

// keep is the start of a report kept for the abuse desk to read.
func keep(raw []byte) string {
	return strings.ToValidUTF8(string(raw[:min(len(raw), keptReport)]), "\uFFFD")
}

// clean bounds a field taken from a report and makes it valid UTF-8 (the
// console and the CLI escape what they show).
func clean(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func dedup(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Maildir ingests every message in dir/new, oldest first, and moves each
// one recorded to dir/cur (flag S, seen): a second run finds nothing to do,
// and a report recorded but not moved (a crash between) is recorded once
// anyway (its complaint's identity). It stops at the first store error,
// leaving that report and the rest in new/.
func (in *Ingester) Maildir(ctx context.Context, dir string, each func(name string, r Result)) error {
	if fi, err := os.Stat(filepath.Join(dir, "cur")); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a Maildir (no cur/)", dir)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		return err
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // taken by another reader meanwhile
		}
		files = append(files, file{e.Name(), fi.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	for _, f := range files {
		src := filepath.Join(dir, "new", f.name)
		fh, err := os.Open(src)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		res, err := in.Ingest(ctx, fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		name, _, _ := strings.Cut(f.name, ":")
		if err := os.Rename(src, filepath.Join(dir, "cur", name+":2,S")); err != nil {
			if _, serr := os.Stat(src); errors.Is(serr, os.ErrNotExist) {
				continue // another run took it meanwhile (and recorded it: once)
			}
			return err
		}
		each(f.name, res)
	}
	return nil
}
