package probe

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
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
	File     string         `json:"-"`
}

// Save writes the scan to dir/scans/, atomically.
func (sc *Scan) Save(dir string) error {
	d := filepath.Join(dir, "scans")
	if err := os.MkdirAll(d, 0o750); err != nil {
		return err
	}
	name := filepath.Join(d, sc.Started.UTC().Format("20060102T150405.000Z")+".json")
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o640); err != nil {
		return err
	}
	sc.File = name
	return os.Rename(tmp, name)
}

// LastScans returns the newest n scans of dir, newest first.
func LastScans(dir string, n int) ([]*Scan, error) {
	names, err := filepath.Glob(filepath.Join(dir, "scans", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	var out []*Scan
	for _, name := range names[:min(n, len(names))] {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var sc Scan
		if err := json.Unmarshal(b, &sc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		sc.File = name
		out = append(out, &sc)
	}
	return out, nil
}

// covers reports whether the scan tested target (ip:port).
func (sc *Scan) covers(target string) bool {
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
	for _, ps := range sc.Ports {
		for _, p := range ps {
			hasPort = hasPort || p == port
		}
	}
	return hasPort && in(sc.Targets) && !in(sc.Exclude)
}

// Diff is what changed between two scans.
type Diff struct {
	New   []OpenService `json:"new"`   // open now, not before (or confirmed now, suspected before)
	Fixed []OpenService `json:"fixed"` // open before, tested again and closed now
}

// Compare diffs cur against prev. A finding absent from cur counts as
// fixed only when cur tested its address and port.
func Compare(prev, cur *Scan) Diff {
	var d Diff
	before := map[string]OpenService{}
	if prev != nil {
		for _, f := range prev.Findings {
			before[f.Key()] = f
		}
	}
	now := map[string]bool{}
	for _, f := range cur.Findings {
		now[f.Key()] = true
		if b, ok := before[f.Key()]; !ok || b.Result != f.Result && f.Result == Confirmed {
			d.New = append(d.New, f)
		}
	}
	if prev != nil {
		for _, f := range prev.Findings {
			if !now[f.Key()] && cur.covers(f.Target) {
				d.Fixed = append(d.Fixed, f)
			}
		}
	}
	return d
}

// String is the diff for people.
func (d Diff) String() string {
	var b strings.Builder
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
