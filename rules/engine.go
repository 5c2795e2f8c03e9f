package rules

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hillu/go-yara/v4"
	"golang.org/x/sync/semaphore"

	"outguard/mimewalk"
	"outguard/policy"
	"outguard/spool"
)

// Engine scans messages with the current rule set; Swap replaces the set
// while mail flows (scans in progress finish with the set they started
// with; go-yara frees a set when nothing references it).
type Engine struct {
	set         atomic.Pointer[Set]
	Limits      mimewalk.Limits
	Timeout     time.Duration // per item scanned
	OnLimit     policy.Action // a walk limit was hit: default accept, stamped
	OnMalformed policy.Action // malformed MIME: default accept, stamped
	Log         *slog.Logger
	Observer    Observer // may be nil

	// Not fully checked (a limit, malformed or ambiguous MIME, an archive
	// not opened) and holding a program, a script, an OLE document or an
	// unopened archive: the message is not accepted on a partial scan.
	// The zero value is Accept: set it (config default quarantine).
	OnUncheckedRisky policy.Action

	// Tap, when set, gives a message's walk a second reader (the campaign
	// fingerprint): every item the rules see, so that the message is
	// parsed once. Done follows a walk that reached its end.
	Tap func(*policy.Transaction) Tap

	// mapped bounds the bytes of spooled items that libyara has mapped at
	// once (nil: no bound; NewEngine sets MaxMapped). A mapped file's
	// pages count in milterd's resident memory while it is scanned, and
	// fifty concurrent 25 MiB messages mapped their decoded attachments
	// all at once (50 MiB of a 126 MiB peak). Scans are CPU-bound, so
	// more at once than cores gains nothing.
	mapped    *semaphore.Weighted
	mappedMax int64
}

// MaxMapped is the bytes of spooled items scanned (mapped) at once: an
// item larger than that is scanned alone.
const MaxMapped = 32 << 20

// Tap reads the items of a walk along with the rules.
type Tap interface {
	Item(*mimewalk.Item)
	Done()
}

// Observer learns of rule reloads.
type Observer interface {
	RulesLoaded(version string, ok bool)
}

// NewEngine returns an engine using set.
func NewEngine(set *Set) *Engine {
	e := &Engine{Timeout: 10 * time.Second, mapped: semaphore.NewWeighted(MaxMapped), mappedMax: MaxMapped}
	e.set.Store(set)
	return e
}

// Swap installs a new rule set.
func (e *Engine) Swap(s *Set) { e.set.Store(s) }

// Set returns the rule set in use.
func (e *Engine) Set() *Set { return e.set.Load() }

// Match is one rule that matched one item.
type Match struct {
	Rule        string `json:"rule"`
	Namespace   string `json:"namespace"`
	Action      string `json:"action"`
	Description string `json:"description,omitempty"`
	Path        string `json:"path"`
	PartPath    string `json:"part_path,omitempty"`
	ArchivePath string `json:"archive_path,omitempty"`
	Filename    string `json:"filename,omitempty"`
}

// ItemResult is what one item of the walk gave.
type ItemResult struct {
	Path        string  `json:"path"`
	ContentType string  `json:"content_type"`
	Filename    string  `json:"filename,omitempty"`
	Size        int64   `json:"size"`
	FileType    string  `json:"file_type,omitempty"`
	Risk        string  `json:"risk,omitempty"` // see risk
	Matches     []Match `json:"matches,omitempty"`
}

// Result is a whole message's scan.
type Result struct {
	Version   string             `json:"rules_version"`
	Items     []ItemResult       `json:"items"`
	Anomalies []mimewalk.Anomaly `json:"findings,omitempty"`
}

// Matches returns every match of the scan.
func (r Result) Matches() []Match {
	var out []Match
	for _, it := range r.Items {
		out = append(out, it.Matches...)
	}
	return out
}

// noTryCatch is libyara's SCAN_FLAGS_NO_TRYCATCH (yara/scan.h; go-yara has
// no name for it). By default libyara swaps the process's SIGSEGV and SIGBUS
// handlers around every scan (a dozen sigaction calls: most of a small
// item's cost here), to survive a memory-mapped file that shrinks under it.
// A Go byte slice cannot, so in-memory items are scanned without it; a
// part spooled to a file, which libyara maps, keeps it.
const noTryCatch yara.ScanFlags = 4

// Scan walks the message in r and runs the rules on every item.
func (e *Engine) Scan(ctx context.Context, r io.ReaderAt, size int64, user, from string) (Result, error) {
	return e.scan(ctx, r, size, user, from, nil)
}

// scan is Scan with tap (may be nil) reading each item too.
func (e *Engine) scan(ctx context.Context, r io.ReaderAt, size int64, user, from string, tap Tap) (Result, error) {
	set := e.set.Load()
	res := Result{Version: set.Version}
	sc, _ := set.scanners.Get().(*scanner)
	if sc == nil {
		ys, err := yara.NewScanner(set.rules)
		if err != nil {
			return res, err
		}
		sc = &scanner{Scanner: ys, defined: map[string]any{}}
	}
	defer set.scanners.Put(sc)
	if err := sc.define("sasl_user", user); err != nil {
		return res, err
	}
	if err := sc.define("envelope_from", from); err != nil {
		return res, err
	}
	var err error
	res.Anomalies, err = mimewalk.Walk(ctx, r, size, e.Limits, func(it *mimewalk.Item) error {
		ext := strings.ToLower(strings.TrimPrefix(path.Ext(it.Filename), "."))
		for _, v := range [...]struct {
			name  string
			value any
		}{
			{"filename", it.Filename}, {"extension", ext}, {"content_type", it.ContentType},
			{"part_path", it.PartPath}, {"archive_path", it.ArchivePath}, {"depth", it.Depth},
			{"is_attachment", it.IsAttachment}, {"is_body", it.IsBody},
			{"encrypted", it.Encrypted}, {"truncated", it.Truncated}, {"malformed", it.Malformed}, {"depth_limited", it.DepthLimited},
			{"file_type", it.FileType}, {"names", namesExternal(it.Names)}, {"carved", it.Carved},
		} {
			if err := sc.define(v.name, v.value); err != nil {
				return err
			}
		}
		var m yara.MatchRules
		sc.SetCallback(&m)
		sc.SetTimeout(itemTimeout(ctx, e.Timeout))
		if b, inMem := it.Data.Bytes(); inMem {
			if b == nil {
				b = []byte{}
			}
			err = sc.SetFlags(noTryCatch).ScanMem(b)
		} else {
			err = e.scanFile(ctx, sc, it.Data)
		}
		if err != nil {
			return fmt.Errorf("yara on %s: %w", it.Path, err)
		}
		ir := ItemResult{Path: it.Path, ContentType: it.ContentType, Filename: it.Filename, Size: it.Data.Size(), FileType: it.FileType, Risk: risk(it)}
		for _, mr := range m {
			info := set.Info[mr.Namespace+":"+mr.Rule]
			ir.Matches = append(ir.Matches, Match{Rule: mr.Rule, Namespace: mr.Namespace, Action: info.Action, Description: info.Description,
				Path: it.Path, PartPath: it.PartPath, ArchivePath: it.ArchivePath, Filename: it.Filename})
		}
		res.Items = append(res.Items, ir)
		if tap != nil {
			tap.Item(it)
		}
		return nil
	})
	if err == nil && tap != nil {
		tap.Done()
	}
	// Whether an archive opened is known only after its item was scanned.
	for _, f := range res.Anomalies {
		if f.Kind != "unopened" {
			continue
		}
		for i := range res.Items {
			if res.Items[i].Path == f.Path {
				res.Items[i].Risk = "unopened archive (" + res.Items[i].FileType + ")"
			}
		}
	}
	return res, err
}

// itemTimeout is the rules' timeout for the next item, cut to what is left
// of ctx's deadline (message_timeout): libyara cannot be stopped mid-scan
// but by its timeout, so a page that runs the rules slowly would hold a
// core for the whole timeout past the deadline. libyara counts whole
// seconds, where 0 is no timeout at all: rounded up, at least 1s.
func itemTimeout(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}

// scanFile scans an item spooled to a file, which libyara maps, within
// the bound on mapped bytes; waiting for room ends with ctx (the message's
// deadline: the check's on_error then applies).
func (e *Engine) scanFile(ctx context.Context, sc *scanner, data *spool.Spool) error {
	if e.mapped != nil {
		n := min(data.Size(), e.mappedMax)
		if err := e.mapped.Acquire(ctx, n); err != nil {
			return fmt.Errorf("waiting to scan a %d-byte item: %w", data.Size(), err)
		}
		defer e.mapped.Release(n)
	}
	fd, _ := data.Fd()
	return sc.SetFlags(0).ScanFileDescriptor(fd)
}

func (e *Engine) Name() string { return "rules" }

// CheckMessage scans the spooled message; the strongest matching rule's
// action is the verdict. tag rules and accepted findings are stamped.
func (e *Engine) CheckMessage(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	var tap Tap
	if e.Tap != nil {
		tap = e.Tap(t)
	}
	res, err := e.scan(ctx, t.Message, t.Message.Size(), t.User, t.From, tap)
	if err != nil {
		return policy.Verdict{}, err
	}
	return e.Decide(res, t.Stamp, t.Unchecked), nil
}

// Decide turns a scan result into a verdict; stamp records notes for the
// header and the audit line, unchecked those of a scan a limit cut short.
func (e *Engine) Decide(res Result, stamp, unchecked func(string)) policy.Verdict {
	stamp("rules " + res.Version)
	best := policy.Verdict{Action: policy.Accept}
	var hits, tags []string
	var found []policy.Finding
	for _, m := range res.Matches() {
		found = append(found, policy.Finding{Engine: "rules", Name: m.Namespace + ":" + m.Rule, Action: m.Action, Description: m.Description,
			Part: m.PartPath, Filename: m.Filename, ArchivePath: m.ArchivePath, Version: res.Version})
		a := Action(m.Action)
		desc := fmt.Sprintf("%s:%s in %s", m.Namespace, m.Rule, m.Path)
		if m.Description != "" {
			desc += " (" + m.Description + ")"
		}
		if a == policy.Accept {
			tags = append(tags, m.Rule)
			continue
		}
		hits = append(hits, desc)
		if a > best.Action {
			best = policy.New(a, "")
		}
	}
	if len(tags) > 0 {
		stamp("rules: tagged " + strings.Join(dedup(tags), ","))
	}
	if best.Action != policy.Accept {
		best.Reason = fmt.Sprintf("rules %s: %s", res.Version, strings.Join(hits, "; "))
		best.Findings = found
		return best
	}
	if v := e.uncheckedRisky(res); v.Stronger(best) {
		best = v
	}
	for _, f := range res.Anomalies {
		action := e.OnMalformed
		if f.Kind == "limit" {
			action = e.OnLimit
		}
		if f.Kind == "encrypted" {
			continue // a rule decides, with the external "encrypted"
		}
		reason := fmt.Sprintf("rules: %s at %s: %s", f.Kind, f.Path, f.Detail)
		if action == policy.Accept {
			unchecked(fmt.Sprintf("rules: not fully scanned (%s at %s)", f.Kind, f.Path))
			continue
		}
		if v := policy.New(action, reason); v.Stronger(best) {
			best = v
		}
	}
	return best
}

func namesExternal(names []string) string {
	var b strings.Builder
	for _, n := range names {
		// YARA takes the value as a C string: a NUL in one name (=00 in
		// an encoded word) would end it there and hide the names after.
		b.WriteString(strings.ReplaceAll(n, "\x00", "\uFFFD"))
		b.WriteByte('\n')
	}
	return b.String()
}

// scriptExt are the extensions Windows runs a script by (with the
// shipped script_attachment rule's list).
var scriptExt = map[string]bool{"js": true, "jse": true, "vbs": true, "vbe": true, "wsf": true, "hta": true, "ps1": true, "bat": true, "cmd": true, "scr": true, "lnk": true, "msi": true, "jar": true, "com": true, "pif": true, "exe": true}

// risk says why an item may not pass on a partial scan: a program, a
// script (by content or by a declared name), an OLE document cut before
// its end (its macros may lie past the cut: office_vba_macro sees those
// before it), an item or archive member not read at all, or an archive
// the walk did not open (set in Scan). "" when none.
func risk(it *mimewalk.Item) string {
	switch {
	case it.FileType == mimewalk.TypePE || it.FileType == mimewalk.TypeELF || it.FileType == mimewalk.TypeMachO:
		return "program (" + it.FileType + ")"
	case it.FileType == mimewalk.TypeScript:
		return "script"
	case it.FileType == mimewalk.TypeOLE && it.Truncated:
		// Cut before the end: its macros may lie past the cut.
		return "OLE document (macros), truncated"
	case it.Truncated && it.Data.Size() == 0:
		// Nothing of it was read (max_total spent on what came before, a
		// bomb say): what it is is unknown.
		return "item not scanned at all"
	case it.Malformed && it.ArchivePath != "" && it.Data.Size() == 0:
		// An archive member the walk could not decode at all (a method
		// or coder chain its reader lacks: Deflate64 in a zip, a 7z
		// folder listing its coders in another order) that 7-Zip or
		// Explorer may still extract: what it is is unknown.
		return "archive member not decoded"
	}
	for _, n := range it.Names {
		if scriptExt[strings.ToLower(strings.TrimPrefix(path.Ext(n), "."))] {
			return "script or program by name (" + n + ")"
		}
	}
	return ""
}

// uncheckedRisky is the verdict on content not fully checked: when the
// walk met a limit, malformed or ambiguous MIME, or an archive it could
// not open, and the message holds a risky item (risk), a rule that did
// not fire proves nothing about it: OnUncheckedRisky.
func (e *Engine) uncheckedRisky(res Result) policy.Verdict {
	var unchecked *mimewalk.Anomaly
	for i, f := range res.Anomalies {
		if f.Kind != "encrypted" {
			unchecked = &res.Anomalies[i]
			break
		}
	}
	if unchecked == nil {
		return policy.Verdict{Action: policy.Accept}
	}
	for _, it := range res.Items {
		if it.Risk != "" {
			return policy.New(e.OnUncheckedRisky, fmt.Sprintf("rules: not fully checked (%s at %s: %s) and holds a %s at %s", unchecked.Kind, unchecked.Path, unchecked.Detail, it.Risk, it.Path))
		}
	}
	return policy.Verdict{Action: policy.Accept}
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
