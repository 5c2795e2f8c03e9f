package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"outguard/internal/yamlconf"
)

// BlockConfig turns confirmed findings into blocks (block: in the config).
type BlockConfig struct {
	Duration yamlconf.Duration `yaml:"duration"` // from the finding's time; a newer confirmation extends it
	// Never blocked, whatever a scan found: the ISP's own infrastructure.
	Exclude  []yamlconf.Prefix `yaml:"exclude"`
	NFTables *NFTablesBackend  `yaml:"nftables"`
	Command  CommandBackend    `yaml:"command"`
	Files    FileBackends      `yaml:"files"`
	// Each nft run and command, its children's output included: a
	// router API that hangs ends here, as a failure retried next run.
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// NFTablesBackend is a set with flags timeout the ISP's ruleset drops
// traffic from; nft must be in PATH.
type NFTablesBackend struct {
	Table string `yaml:"table"` // family and name, e.g. "inet filter"
	Set   string `yaml:"set"`   // type ipv4_addr; flags timeout
	Set6  string `yaml:"set6"`  // type ipv6_addr; flags timeout; "": IPv6 addresses are not put in nftables
}

// CommandBackend runs an argv per block added and per block lifted;
// {addr} in an argument becomes the address, {customer} the customer.
type CommandBackend struct {
	Add    []string `yaml:"add"`
	Remove []string `yaml:"remove"`
}

// FileBackends are files other programs consume, rewritten whole
// (atomically) on every change.
type FileBackends struct {
	List          string `yaml:"list"`           // an address a line
	PostfixAccess string `yaml:"postfix_access"` // check_client_access map: ADDR REJECT text
	RPZ           string `yaml:"rpz"`            // an RPZ zone: rpz-client-ip triggers, action NXDOMAIN
	// Run (argv, no shell) after the files are written, on every run that
	// writes them: a resolver reads an RPZ zone file only when it loads
	// the zone, e.g. [unbound-control, auth_zone_reload, rpz.isp.example.]
	// or [rndc, reload, rpz.isp.example]. Bounded by block.timeout; a
	// failure is a backend failure.
	Reload []string `yaml:"reload"`
}

// nftName is an nft identifier (nft's scanner: a letter, _ or ., then
// letters, digits, _ . / -).
var nftName = regexp.MustCompile(`^[A-Za-z_.][A-Za-z0-9_./-]*$`)

// check asks nft for the sets: a typo in their names, a ruleset not yet
// loaded, or a missing CAP_NET_ADMIN shows at -check-config, not at the
// first block.
func (n *NFTablesBackend) check() error {
	for _, set := range []string{n.Set, n.Set6} {
		if set == "" {
			continue
		}
		args := append([]string{"list", "set"}, append(strings.Fields(n.Table), set)...)
		if out, err := exec.Command("nft", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("block.nftables: nft %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

func (b *BlockConfig) validate(bad func(key, format string, args ...any) error) error {
	if b.Duration == 0 {
		b.Duration = yamlconf.Duration(7 * 24 * time.Hour)
	}
	if b.Timeout == 0 {
		b.Timeout = yamlconf.Duration(30 * time.Second)
	}
	if b.Timeout < 0 {
		return bad("block.timeout", "must be above 0")
	}
	if b.Duration < yamlconf.Duration(time.Minute) {
		return bad("block.duration", "must be at least 1m")
	}
	if n := b.NFTables; n != nil {
		t := strings.Fields(n.Table)
		if len(t) != 2 || n.Set == "" {
			return bad("block.nftables", `want table: "FAMILY NAME" (e.g. "inet filter") and set`)
		}
		if !slices.Contains([]string{"ip", "ip6", "inet", "arp", "bridge", "netdev"}, t[0]) {
			return bad("block.nftables", "table %q: unknown family %q (want ip, ip6, inet, arp, bridge or netdev)", n.Table, t[0])
		}
		// The names go into an nft script, where ";" or a newline would
		// start another command: only nft's own identifiers.
		for _, name := range []string{t[1], n.Set, n.Set6} {
			if name != "" && !nftName.MatchString(name) {
				return bad("block.nftables", "%q: not an nft name (letters, digits, _ . / -)", name)
			}
		}
	}
	if b.Files.Reload != nil && (len(b.Files.Reload) == 0 || b.Files.Reload[0] == "") {
		return bad("block.files.reload", "want a command and its arguments, e.g. [unbound-control, auth_zone_reload, rpz.isp.example.]")
	}
	for _, f := range []string{b.Files.List, b.Files.PostfixAccess, b.Files.RPZ} {
		if f != "" && !filepath.IsAbs(f) {
			return bad("block.files", "%q: want an absolute path", f)
		}
	}
	return nil
}

// Block is an address shut down for what a scan confirmed there.
type Block struct {
	Addr     netip.Addr    `json:"addr"`
	Since    time.Time     `json:"since"`   // the earliest confirmation it stands on
	Expires  time.Time     `json:"expires"` // the newest confirmation plus block.duration
	Customer string        `json:"customer,omitempty"`
	Findings []OpenService `json:"findings"` // the evidence
	// Why a lifted block was lifted: expired, fixed (a healthy scan tested
	// it and found it closed) or excluded.
	Lifted string `json:"lifted,omitempty"`
}

// Reason is the block's reason for people.
func (b Block) Reason() string {
	var s []string
	for _, f := range b.Findings {
		s = append(s, f.Service+" on "+f.Target)
	}
	return "confirmed open " + strings.Join(s, ", ")
}

// blockState is the file state_dir/blocks.json: the blocks every backend
// has.
type blockState struct {
	Blocks []Block `json:"blocks"`
}

func blocksFile(dir string) string { return filepath.Join(dir, "blocks.json") }

// LoadBlocks reads the active blocks kept in dir; none when there is no
// file yet.
func LoadBlocks(dir string) ([]Block, error) {
	b, err := os.ReadFile(blocksFile(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st blockState
	if err := json.Unmarshal(b, &st); err != nil {
		// Unlike a scan, this file cannot be skipped: it says what the
		// backends hold. The operator must look.
		return nil, fmt.Errorf("%s: damaged: %w", blocksFile(dir), err)
	}
	return st.Blocks, nil
}

// Enforcement is what one run of Enforce changed.
type Enforcement struct {
	Added    []Block  `json:"added"`              // new
	Extended []Block  `json:"extended,omitempty"` // confirmed again: expires later
	Lifted   []Block  `json:"lifted"`             // with the reason
	Active   []Block  `json:"active"`             // after the run
	Failures []string `json:"failures,omitempty"` // backends that failed: retried on the next run
}

// Enforce brings the blocks in line with the last known state of every
// target at time now: a confirmed finding blocks its address until its
// time plus block.duration; the block is lifted when it expires or when a
// healthy scan tested every port of the address that had findings and
// found them closed. An unreachable target, a port in error or an
// unhealthy scan leave the last known state, so the block stays; an
// address in block.exclude is never blocked. With dryRun, nothing is
// changed and nobody told. A backend that fails for an address is logged
// and retried on the next run (the address is kept as it was).
func Enforce(ctx context.Context, cfg *Config, now time.Time, dryRun bool, log *slog.Logger) (Enforcement, error) {
	bc := cfg.Block
	if bc == nil {
		return Enforcement{}, errors.New("no block: section in the config")
	}
	unlock, err := lock(ctx, cfg.StateDir, "blocks.lock")
	if err != nil {
		return Enforcement{}, err
	}
	defer unlock()
	known, err := LoadKnown(cfg.StateDir, log)
	if err != nil {
		return Enforcement{}, err
	}
	old, err := LoadBlocks(cfg.StateDir)
	if err != nil {
		return Enforcement{}, err
	}
	excluded := func(a netip.Addr) bool {
		for _, p := range bc.Exclude {
			if unmapPrefix(netip.Prefix(p)).Contains(a) {
				return true
			}
		}
		return false
	}
	// What the last known state asks for, and which addresses still have
	// findings of any kind (a confirmed relay seen only as suspected in a
	// later scan is not known to be fixed).
	want := map[netip.Addr]*Block{}
	open := map[netip.Addr]bool{}
	for _, fs := range known {
		for _, f := range fs {
			// A v4-mapped target (::ffff:192.0.2.7 typed as a target) is
			// its IPv4 address: for block.exclude, the IPv4 set, the files.
			a := netip.MustParseAddrPort(f.Target).Addr().Unmap()
			open[a] = true
			if f.Result != Confirmed || excluded(a) {
				continue
			}
			exp := f.Time.Add(time.Duration(bc.Duration))
			if !exp.After(now) {
				continue
			}
			b := want[a]
			if b == nil {
				b = &Block{Addr: a, Since: f.Time, Expires: exp, Customer: f.Customer}
				want[a] = b
			}
			b.Findings = append(b.Findings, f)
			if f.Time.Before(b.Since) {
				b.Since = f.Time
			}
			if exp.After(b.Expires) {
				b.Expires = exp
			}
		}
	}
	var e Enforcement
	be := backends{cfg: bc, log: log, now: now}
	for _, b := range old {
		switch w := want[b.Addr]; {
		case w != nil:
			if w.Expires.After(b.Expires) {
				e.Extended = append(e.Extended, *w)
			} else {
				e.Active = append(e.Active, b)
			}
			delete(want, b.Addr)
		case excluded(b.Addr):
			b.Lifted = "excluded"
			e.Lifted = append(e.Lifted, b)
		case !b.Expires.After(now):
			b.Lifted = "expired"
			e.Lifted = append(e.Lifted, b)
		case !open[b.Addr] && testedClosed(known, b):
			b.Lifted = "fixed"
			e.Lifted = append(e.Lifted, b)
		default:
			e.Active = append(e.Active, b) // seen since, not confirmed: kept until it expires
		}
	}
	for _, b := range want {
		e.Added = append(e.Added, *b)
	}
	byAddr := func(a, b Block) int { return a.Addr.Compare(b.Addr) }
	for _, l := range [][]Block{e.Added, e.Extended, e.Lifted} {
		slices.SortFunc(l, byAddr)
		for _, b := range l {
			slices.SortFunc(b.Findings, func(x, y OpenService) int { return strings.Compare(x.Key(), y.Key()) })
		}
	}
	if dryRun {
		e.Active = append(append(e.Active, e.Added...), e.Extended...)
		slices.SortFunc(e.Active, byAddr)
		return e, nil
	}
	// The blocks kept as they were are put in nftables again: a router
	// that rebooted, a set flushed by hand, or a backend configured after
	// the block was made would otherwise miss them until they expire.
	for _, b := range e.Active {
		if err := be.nftAdd(ctx, b); err != nil {
			e.Failures = append(e.Failures, err.Error())
			log.Error("refreshing a block in nftables failed: retried on the next run", "addr", b.Addr, "err", err)
		}
	}
	added, extended, lifted := e.Added[:0:0], e.Extended[:0:0], e.Lifted[:0:0]
	for _, b := range e.Added {
		if err := be.add(ctx, b, true); err != nil {
			e.Failures = append(e.Failures, err.Error())
			log.Error("block failed: retried on the next run", "addr", b.Addr, "err", err)
			continue
		}
		added = append(added, b)
		e.Active = append(e.Active, b)
	}
	for _, b := range e.Extended {
		if err := be.add(ctx, b, false); err != nil {
			e.Failures = append(e.Failures, err.Error())
			log.Error("extending a block failed: retried on the next run", "addr", b.Addr, "err", err)
			i := slices.IndexFunc(old, func(o Block) bool { return o.Addr == b.Addr })
			e.Active = append(e.Active, old[i])
			continue
		}
		extended = append(extended, b)
		e.Active = append(e.Active, b)
	}
	for _, b := range e.Lifted {
		if err := be.remove(ctx, b); err != nil {
			e.Failures = append(e.Failures, err.Error())
			log.Error("lifting a block failed: retried on the next run", "addr", b.Addr, "err", err)
			b.Lifted = ""
			e.Active = append(e.Active, b)
			continue
		}
		lifted = append(lifted, b)
	}
	e.Added, e.Extended, e.Lifted = added, extended, lifted
	slices.SortFunc(e.Active, byAddr)
	if err := be.files(ctx, e.Active, cfg.InfoURL); err != nil {
		e.Failures = append(e.Failures, err.Error())
		log.Error("block files", "err", err)
	}
	var body []byte
	if len(e.Added)+len(e.Lifted)+len(e.Failures) > 0 {
		// The customer and the abuse desk: each block carries its customer
		// and the findings (evidence) for the alert's consumer to route.
		body, _ = json.Marshal(struct {
			Event    string   `json:"event"`
			Added    []Block  `json:"added"`
			Lifted   []Block  `json:"lifted"`
			Failures []string `json:"failures,omitempty"`
		}{"relayprobe-block", e.Added, e.Lifted, e.Failures})
	}
	// Kept before blocks.json makes it told (see keepAlert).
	if err := keepAlert(ctx, cfg, body); err != nil {
		return e, fmt.Errorf("keeping the alert: %w", err)
	}
	js, err := json.MarshalIndent(blockState{Blocks: e.Active}, "", "  ")
	if err != nil {
		return e, err
	}
	if err := writeAtomic(blocksFile(cfg.StateDir), append(js, '\n'), 0o640); err != nil {
		return e, err
	}
	for _, b := range e.Added {
		log.Info("blocked", "addr", b.Addr, "customer", b.Customer, "expires", b.Expires, "reason", b.Reason())
	}
	for _, b := range e.Lifted {
		log.Info("block lifted", "addr", b.Addr, "customer", b.Customer, "why", b.Lifted)
	}
	tell(ctx, cfg, log)
	return e, nil
}

// testedClosed reports whether a scan tested every finding b stands on
// and found it closed. A target of which nothing is known (the scans that
// found it are damaged, removed, or beyond history) is not fixed.
func testedClosed(known Known, b Block) bool {
	for _, f := range b.Findings {
		fs, ok := known[f.Target]
		if !ok || slices.ContainsFunc(fs, func(g OpenService) bool { return g.Key() == f.Key() }) {
			return false
		}
	}
	return true
}

// backends applies blocks.
type backends struct {
	cfg *BlockConfig
	log *slog.Logger
	now time.Time
}

// add puts b in nftables and runs the add command for a new block.
func (be backends) add(ctx context.Context, b Block, isNew bool) error {
	if err := be.nftAdd(ctx, b); err != nil {
		return err
	}
	if isNew && len(be.cfg.Command.Add) > 0 {
		return be.run(ctx, be.cfg.Command.Add, b)
	}
	return nil
}

// nftAdd puts b in nftables with its remaining time as the element's
// timeout, replacing the element if it exists.
func (be backends) nftAdd(ctx context.Context, b Block) error {
	set := be.nftSet(b.Addr)
	if set == "" {
		return nil
	}
	secs := int64(b.Expires.Sub(be.now).Seconds()) + 1
	// One transaction: adding an element that exists does nothing (its
	// timeout stays), so it is made to exist, deleted and added with the
	// new timeout.
	return be.nft(ctx, set, fmt.Sprintf("{ %s timeout 1s }", b.Addr), fmt.Sprintf("{ %s timeout %ds }", b.Addr, secs))
}

// remove takes b out of nftables (whether or not its timeout already
// did) and runs the remove command.
func (be backends) remove(ctx context.Context, b Block) error {
	if set := be.nftSet(b.Addr); set != "" {
		if err := be.nft(ctx, set, fmt.Sprintf("{ %s timeout 1s }", b.Addr), ""); err != nil {
			return err
		}
	}
	if len(be.cfg.Command.Remove) > 0 {
		return be.run(ctx, be.cfg.Command.Remove, b)
	}
	return nil
}

func (be backends) nftSet(a netip.Addr) string {
	n := be.cfg.NFTables
	switch {
	case n == nil:
		return ""
	case a.Is4() || a.Is4In6():
		return n.Set
	}
	if n.Set6 == "" {
		be.log.Warn("no block.nftables.set6: IPv6 address not put in nftables", "addr", a)
	}
	return n.Set6
}

// nft runs one nft transaction (nft -f -): the element made to exist,
// deleted, and re-added when readd is set.
func (be backends) nft(ctx context.Context, set, exist, readd string) error {
	tbl := be.cfg.NFTables.Table
	script := fmt.Sprintf("add element %s %s %s\ndelete element %s %s %s\n", tbl, set, exist, tbl, set, exist)
	if readd != "" {
		script += fmt.Sprintf("add element %s %s %s\n", tbl, set, readd)
	}
	cmd, cancel := be.command(ctx, []string{"nft", "-f", "-"})
	defer cancel()
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f -: %v: %s (script: %q)", err, bytes.TrimSpace(out), script)
	}
	return nil
}

// run runs argv with {addr} and {customer} replaced; no shell.
func (be backends) run(ctx context.Context, argv []string, b Block) error {
	r := strings.NewReplacer("{addr}", b.Addr.String(), "{customer}", b.Customer)
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = r.Replace(a)
	}
	cmd, cancel := be.command(ctx, args)
	defer cancel()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// command is argv bounded by block.timeout.
func (be backends) command(ctx context.Context, argv []string) (*exec.Cmd, context.CancelFunc) {
	return boundedCommand(ctx, time.Duration(be.cfg.Timeout), argv)
}

// boundedCommand is argv bounded by timeout: its process group killed
// then (a wrapper script's children too), and its output no longer waited
// for a second later (a child that left the group may hold the pipe
// open). The caller calls cancel when it is done.
func boundedCommand(ctx context.Context, timeout time.Duration, argv []string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd, cancel
}

// files rewrites the configured files from the active blocks.
func (be backends) files(ctx context.Context, active []Block, infoURL string) error {
	f := be.cfg.Files
	var list, access, rpz bytes.Buffer
	// RFC 1035 zone file; RPZ (draft-vixie-dnsop-dns-rpz): the SOA and NS
	// are required, the owner of a client-IP trigger is the prefix length
	// and the address reversed under rpz-client-ip, "CNAME ." answers
	// NXDOMAIN.
	fmt.Fprintf(&rpz, "; relayprobe blocks: addresses with a confirmed open relay or proxy\n$TTL 60\n@ IN SOA localhost. hostmaster.localhost. %d 3600 600 86400 60\n@ IN NS localhost.\n", be.now.Unix())
	why := "open relay or proxy found by the ISP's scan"
	if infoURL != "" {
		why += ", see " + infoURL
	}
	for _, b := range active {
		fmt.Fprintln(&list, b.Addr)
		fmt.Fprintf(&access, "%s REJECT %s (until %s)\n", b.Addr, why, b.Expires.UTC().Format(time.RFC3339))
		fmt.Fprintf(&rpz, "%s IN CNAME .\n", rpzClientIP(b.Addr))
	}
	var errs []error
	for _, w := range []struct {
		name string
		data []byte
	}{{f.List, list.Bytes()}, {f.PostfixAccess, access.Bytes()}, {f.RPZ, rpz.Bytes()}} {
		if w.name != "" {
			errs = append(errs, writeAtomic(w.name, w.data, 0o644))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err // the consumers keep the files they loaded
	}
	if len(f.Reload) > 0 {
		cmd, cancel := be.command(ctx, f.Reload)
		defer cancel()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("block.files.reload: %s: %v: %s", strings.Join(f.Reload, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// rpzClientIP is a's rpz-client-ip trigger owner, relative to the zone:
// 32.D.C.B.A for IPv4, 128 and the eight groups reversed for IPv6.
func rpzClientIP(a netip.Addr) string {
	a = a.Unmap()
	var parts []string
	if a.Is4() {
		b := a.As4()
		parts = []string{"32", fmt.Sprint(b[3]), fmt.Sprint(b[2]), fmt.Sprint(b[1]), fmt.Sprint(b[0])}
	} else {
		b := a.As16()
		parts = []string{"128"}
		for i := 14; i >= 0; i -= 2 {
			parts = append(parts, fmt.Sprintf("%x", uint16(b[i])<<8|uint16(b[i+1])))
		}
	}
	return strings.Join(parts, ".") + ".rpz-client-ip"
}

// WriteBlocks lists blocks for people: address, customer, expiry, reason.
func WriteBlocks(w io.Writer, bs []Block) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDR\tCUSTOMER\tSINCE\tEXPIRES\tREASON")
	for _, b := range bs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Addr, dash(b.Customer), b.Since.UTC().Format(time.RFC3339),
			b.Expires.UTC().Format(time.RFC3339), b.Reason())
	}
	return tw.Flush()
}
