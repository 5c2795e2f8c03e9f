package probe

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Scan is one scan as kept in the state directory.
type Scan struct {
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Targets  []netip.Prefix `json:"targets"`
	Exclude  []netip.Prefix `json:"exclude"`
	Ports    Ports          `json:"ports"`
	Findings []OpenService  `json:"findings"`
	// Outcomes are the targets not tested to the end (unreachable,
	// error); Counts has every state's count.
	Outcomes []Outcome      `json:"outcomes,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	// Problems make the scan unhealthy: its closed targets say nothing.
	Problems []string `json:"problems,omitempty"`
	File     string   `json:"-"`

	state map[string]string // open, unreachable and error targets, built on first use
}

// Healthy tells whether the scan can be trusted where it found nothing.
func (sc *Scan) Healthy() bool { return len(sc.Problems) == 0 }

// Save writes the scan to dir/scans/ so that a crash at any point leaves
// either no file or the whole file: a temporary file, fsynced, renamed,
// and the directory fsynced (the rename is durable).
func (sc *Scan) Save(dir string) error {
	name := filepath.Join(dir, "scans", sc.Started.UTC().Format("20060102T150405.000Z")+".json")
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(name, append(b, '\n'), 0o640); err != nil {
		return err
	}
	sc.File = name
	return nil
}

// history is how many earlier scans, newest first, diff and the alert
// look back in for each target's last known state.
const history = 400

// scanFiles lists dir's scan files, oldest first (names sort by time).
func scanFiles(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "scans", "*.json"))
	sort.Strings(names)
	return names, err
}

// readScan reads one scan file.
func readScan(name string) (*Scan, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var sc Scan
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("damaged: %w", err)
	}
	sc.File = name
	return &sc, nil
}

// loadKnown folds the newest history of names, oldest first, one file at
// a time (a scan of a large range may list many unreachable targets). A
// file that cannot be read or parsed (a crash of an older version, a full
// disk, a careless edit) is skipped with a warning: it must not stop every
// later scan.
func loadKnown(names []string, log *slog.Logger) Known {
	k := Known{}
	for _, name := range names[max(0, len(names)-history):] {
		sc, err := readScan(name)
		if err != nil {
			log.Warn("scan file skipped", "file", name, "err", err)
			continue
		}
		k.Apply(sc)
	}
	return k
}

// LoadKnown is the last known state of every target in dir's scans.
func LoadKnown(dir string, log *slog.Logger) (Known, error) {
	names, err := scanFiles(dir)
	if err != nil {
		return nil, err
	}
	return loadKnown(names, log), nil
}

// LastDiff is dir's newest readable scan and its diff against the last
// known state before it; nil when there is no scan.
func LastDiff(dir string, log *slog.Logger) (*Scan, Diff, error) {
	names, err := scanFiles(dir)
	if err != nil {
		return nil, Diff{}, err
	}
	for i := len(names) - 1; i >= 0; i-- {
		cur, err := readScan(names[i])
		if err != nil {
			log.Warn("scan file skipped", "file", names[i], "err", err)
			continue
		}
		return cur, Compare(loadKnown(names[:i], log), cur), nil
	}
	return nil, Diff{}, nil
}

// Known is, for each target some scan found open, what is last known of
// it: the findings no newer scan tested (found open again, or tested to
// the end in a healthy scan with that finding's family on that port). A
// target whose findings were all tested since and found closed has an
// empty list: it is known closed, unlike a target with no entry, of
// which nothing is known (its scans damaged, or beyond history).
type Known map[string][]OpenService

// Apply updates k with sc, newer than every scan applied before.
func (k Known) Apply(sc *Scan) {
	for t, fs := range k {
		kept := []OpenService{}
		for _, f := range fs {
			if !sc.knows(f) {
				kept = append(kept, f)
			}
		}
		k[t] = kept
	}
	for _, f := range sc.Findings {
		k[f.Target] = append(k[f.Target], f)
	}
}

// serviceFamily is the test family (its key in ports:) that finds a
// service.
func serviceFamily(service string) string {
	switch {
	case service == "smtp-relay":
		return "smtp"
	case service == "wingate":
		return "telnet"
	case strings.HasPrefix(service, "http-"), strings.HasPrefix(service, "socks"):
		return "proxy"
	}
	return ""
}

// covers reports whether the scan was asked to test target (ip:port)
// with family's tests ("": any family's).
func (sc *Scan) covers(target, family string) bool {
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return false
	}
	in := func(ps []netip.Prefix) bool {
		for _, p := range ps {
			if p.Contains(ap.Addr()) {
				return true
			}
		}
		return false
	}
	port := int(ap.Port())
	hasPort := false
	for fam, ps := range sc.Ports {
		if family == "" || fam == family {
			hasPort = hasPort || slices.Contains(ps, port)
		}
	}
	return hasPort && in(sc.Targets) && !in(sc.Exclude)
}

// knows reports whether the scan tells the state of finding f: it has
// findings of f's family there, or it is healthy, ran f's family on f's
// target and tested it to the end (found it closed). A scan that ran
// other tests on that port (ports: changed) says nothing of f.
func (sc *Scan) knows(f OpenService) bool {
	if sc.state == nil {
		sc.state = map[string]string{}
		for _, o := range sc.Outcomes {
			sc.state[o.Target] = o.State
		}
		for _, g := range sc.Findings {
			sc.state[g.Target] = Open
		}
	}
	fam := serviceFamily(f.Service)
	switch sc.state[f.Target] {
	case Open:
		if slices.ContainsFunc(sc.Findings, func(g OpenService) bool {
			return g.Target == f.Target && serviceFamily(g.Service) == fam
		}) {
			return true
		}
		return sc.Healthy() && sc.covers(f.Target, fam)
	case "":
		return sc.Healthy() && sc.covers(f.Target, fam)
	}
	return false // unreachable, error: not tested
}

// Diff is what changed since each target's last known state.
type Diff struct {
	New   []OpenService `json:"new"`   // open now, not before (or confirmed now, suspected before)
	Fixed []OpenService `json:"fixed"` // open when last known, tested again and closed now
	// Problems: the scan was unhealthy, and declared nothing fixed.
	Problems []string `json:"problems,omitempty"`
}

// Compare diffs cur against the last known state of each target: a
// narrow re-check thus updates only the targets it tested, and a target
// that was unreachable keeps its earlier state. A finding counts as fixed
// only when cur is healthy and tested its target to the end.
func Compare(known Known, cur *Scan) Diff {
	d := Diff{Problems: cur.Problems}
	now := map[string]bool{}
	for _, f := range cur.Findings {
		now[f.Key()] = true
		i := slices.IndexFunc(known[f.Target], func(b OpenService) bool { return b.Key() == f.Key() })
		if i < 0 || known[f.Target][i].Result != f.Result && f.Result == Confirmed {
			d.New = append(d.New, f)
		}
	}
	if !cur.Healthy() {
		return d
	}
	targets := make([]string, 0, len(known))
	for t := range known {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		for _, f := range known[t] {
			if cur.knows(f) && !now[f.Key()] {
				d.Fixed = append(d.Fixed, f)
			}
		}
	}
	return d
}

// String is the diff for people.
func (d Diff) String() string {
	var b strings.Builder
	for _, p := range d.Problems {
		fmt.Fprintf(&b, "unhealthy  %s\n", p)
	}
	if len(d.Problems) > 0 {
		b.WriteString("unhealthy  nothing is declared fixed by this scan\n")
	}
	for _, f := range d.New {
		fmt.Fprintf(&b, "new    %s %s %s (%s)\n", f.Target, f.Service, f.Result, f.Test)
	}
	for _, f := range d.Fixed {
		fmt.Fprintf(&b, "fixed  %s %s (was %s)\n", f.Target, f.Service, f.Result)
	}
	if b.Len() == 0 {
		return "no change\n"
	}
	return b.String()
}
