// Package rules runs the security team's YARA rules on every decoded part,
// archive member and the header block of a message.
package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/hillu/go-yara/v4"

	"outguard/policy"
)

// Externals are the variables every rule may use; each scan sets them for
// the item scanned.
var Externals = map[string]any{
	"filename":      "",
	"extension":     "",
	"content_type":  "",
	"part_path":     "",
	"archive_path":  "",
	"depth":         0,
	"sasl_user":     "",
	"envelope_from": "",
	"is_attachment": false,
	"is_body":       false,
	// What the walk met on the item (scanner.Item): an encrypted archive
	// member (its data is empty), only its first bytes scanned, broken
	// encoding, or decoded flat below a nesting or part-count limit.
	"encrypted":     false,
	"truncated":     false,
	"malformed":     false,
	"depth_limited": false,
	// What the item is by its content, whatever its name (mimewalk.Sniff):
	// pe, elf, macho, script, zip, ole, pdf, html, rar, 7z, iso, cab,
	// gzip, bzip2, xz, tar, eml, or "" for anything else.
	"file_type": "",
	// Every name declared for the item (Content-Disposition filename,
	// Content-Type name, uuencode/yEnc begin line, archive member name),
	// each followed by a newline: names matches /\.exe\n/i.
	"names": "",
	// Cut out of a flat run by its signature (past a limit, or in the
	// raw message when its MIME is malformed).
	"carved": false,
}

// DefaultAction is the action of a rule without meta action: tag, so that a
// rule nobody decided about yet only marks mail instead of blocking it.
const DefaultAction = "tag"

// Info is what a rule's metadata says.
type Info struct {
	Action      string // reject, quarantine, tempfail or tag
	Description string
}

// Set is a compiled rule set.
type Set struct {
	rules    *yara.Rules
	Version  string // hash of the sources: traces a verdict to the exact rules
	Info     map[string]Info
	Files    []string
	Warnings []string // compiler warnings (slow rules, …) and our own

	scanners sync.Pool // *scanner on these rules, reused across messages
}

// scanner is a YARA scanner with the values its external variables hold:
// a variable is set again only when an item's value differs, in this
// message or from the last one the scanner saw (each DefineVariable is a
// cgo call and a C string; most items and most messages share most
// values, issue #32).
type scanner struct {
	*yara.Scanner
	defined map[string]any
}

// define sets variable name to value unless it holds that already.
func (sc *scanner) define(name string, value any) error {
	if old, ok := sc.defined[name]; ok && old == value {
		return nil
	}
	if err := sc.DefineVariable(name, value); err != nil {
		delete(sc.defined, name) // unknown after a failure: set it next time
		return err
	}
	sc.defined[name] = value
	return nil
}

// CompileError lists compiler errors as file:line: text.
type CompileError struct{ Messages []string }

func (e *CompileError) Error() string { return strings.Join(e.Messages, "\n") }

var compileMu sync.Mutex // see Compile

// Compile compiles every *.yar and *.yara under dir (includes resolve
// relative to the including file).
//
// Compiles run one at a time with the garbage collector off: go-yara
// v4.2.4's AddFile hands libyara a pointer to a Go variable for its
// error and warning callback and keeps no reference to it, so a collection
// during the compile may free and reuse it, and the callback then panics
// ("misuse of an invalid Handle"), taking milterd down on a reload
// (TestCompileWhileAllocating). Compiles are rare (start, reload) and
// short; the heap grows by what is allocated meanwhile.
func Compile(dir string) (*Set, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yar") || strings.HasSuffix(p, ".yara")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("rules: no *.yar or *.yara files in %s", dir)
	}
	sort.Strings(files)
	compileMu.Lock()
	defer compileMu.Unlock()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	c, err := yara.NewCompiler()
	if err != nil {
		return nil, err
	}
	defer c.Destroy()
	for name, v := range Externals {
		if err := c.DefineVariable(name, v); err != nil {
			return nil, err
		}
	}
	h := sha256.New()
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(data))
		h.Write(data)
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		// The file's own namespace: rule names need only be unique per file.
		err = c.AddFile(f, strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)))
		f.Close()
		if err != nil && len(c.Errors) == 0 {
			return nil, fmt.Errorf("rules: %s: %w", p, err)
		}
		if len(c.Errors) > 0 {
			break // libyara cannot go on after an error
		}
	}
	if len(c.Errors) > 0 {
		ce := &CompileError{}
		for _, m := range c.Errors {
			ce.Messages = append(ce.Messages, fmt.Sprintf("%s:%d: %s", m.Filename, m.Line, m.Text))
		}
		return nil, ce
	}
	r, err := c.GetRules()
	if err != nil {
		return nil, err
	}
	s := &Set{rules: r, Version: hex.EncodeToString(h.Sum(nil))[:12], Info: map[string]Info{}, Files: files}
	for _, m := range c.Warnings {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s:%d: %s", m.Filename, m.Line, m.Text))
	}
	seen := map[string]string{}
	for _, rule := range r.GetRules() {
		info := Info{Action: DefaultAction}
		hasAction := false
		for _, m := range rule.Metas() {
			v, _ := m.Value.(string)
			switch m.Identifier {
			case "action":
				info.Action, hasAction = v, true
			case "description":
				info.Description = v
			}
		}
		id := rule.Identifier()
		if err := validAction(info.Action); err != nil {
			return nil, &CompileError{[]string{fmt.Sprintf("%s: rule %s: %v", rule.Namespace(), id, err)}}
		}
		if !hasAction {
			s.Warnings = append(s.Warnings, fmt.Sprintf("rule %s:%s has no meta action: it only tags (%s)", rule.Namespace(), id, DefaultAction))
		}
		if ns, dup := seen[id]; dup {
			s.Warnings = append(s.Warnings, fmt.Sprintf("rule name %s is used in both %s and %s", id, ns, rule.Namespace()))
		}
		seen[id] = rule.Namespace()
		s.Info[rule.Namespace()+":"+id] = info
	}
	return s, nil
}

func validAction(a string) error {
	switch a {
	case "reject", "quarantine", "tempfail", "tag":
		return nil
	}
	return fmt.Errorf("meta action %q: want reject, quarantine, tempfail or tag", a)
}

// Action maps a rule action to a policy action; tag is Accept.
func Action(a string) policy.Action {
	switch a {
	case "reject":
		return policy.Reject
	case "quarantine":
		return policy.Quarantine
	case "tempfail":
		return policy.Tempfail
	}
	return policy.Accept
}

// Destroy frees the compiled rules.
func (s *Set) Destroy() { s.rules.Destroy() }

// YaraRules exposes the compiled rules, for benchmarks' baseline.
func YaraRules(s *Set) *yara.Rules { return s.rules }
