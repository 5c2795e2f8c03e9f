package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"

	"outguard/internal/yamlconf"
)

// ListingsConfig is the blocklist watch (listings: in the config).
type ListingsConfig struct {
	Ranges   []yamlconf.Prefix `yaml:"ranges"`   // the ISP's own IPv4 ranges
	Resolver string            `yaml:"resolver"` // IP:port of a resolver the DNSBLs answer (not a public one: most refuse those)
	Rate     float64           `yaml:"rate"`     // queries per second, all zones together
	Timeout  yamlconf.Duration `yaml:"timeout"`  // one query; one retry after it
	Zones    []DNSBLZone       `yaml:"zones"`
	// Per /24 and zone counted so (per24): a warning from warn_per24 listed
	// addresses, an escalation at escalation_per24 (UCEPROTECT lists the
	// whole allocation at Level 2 for "more than 4" in a /24).
	WarnPer24       int    `yaml:"warn_per24"`
	EscalationPer24 int    `yaml:"escalation_per24"`
	Metrics         string `yaml:"metrics"` // Prometheus textfile; "": none
	// A command (argv, no shell) that names the outguard accounts that
	// logged in from the listed addresses: they are written to its stdin,
	// one a line, and it answers JSON lines {"addr", "account", "last"}
	// (milterctl accounts by-ip --json). Empty: listings name no accounts.
	Accounts        []string          `yaml:"accounts"`
	AccountsTimeout yamlconf.Duration `yaml:"accounts_timeout"`
}

// DNSBLZone is one blocklist and how to ask it.
type DNSBLZone struct {
	Zone string `yaml:"zone"`
	Name string `yaml:"name"`
	// ip: every address of the ranges; range: the first address of every
	// range (a list of whole networks: UCEPROTECT Level 3 lists ASNs, and
	// each range is the ISP's, in its ASN).
	Form string `yaml:"form"`
	// Count this zone's listings per /24 against warn_per24 and
	// escalation_per24 (a list whose listings escalate: UCEPROTECT L1).
	Per24 bool `yaml:"per24"`
	// The answers (A records) that mean listed; any other answer is an
	// error, e.g. Spamhaus's 127.255.255.x "query refused", never a listing.
	Codes []string `yaml:"codes"`
	// A key the list requires, put before the zone: D.C.B.A.KEY.ZONE
	// (Spamhaus DQS).
	Key string `yaml:"key"`
}

// Query forms.
const (
	FormIP    = "ip"
	FormRange = "range"
)

// maxFailuresInARow is how many queries of a zone may fail in a row
// before the run stops asking it (see WatchListings).
const maxFailuresInARow = 32

var errGaveUp = errors.New("gave up")

// maxListingQueries bounds one run: at the default rate, about 1.5 hours.
const maxListingQueries = 1 << 18

// DefaultZones are the lists watched when listings.zones is not set: the
// ones that need no key or registration. UCEPROTECT: every level is asked
// for an address and answers 127.0.0.2 when it is listed; Level 2 lists
// allocations (a customer's assignment can be one, smaller than a /24), so
// it is asked for every address; Level 3 lists ASNs, so one address a
// range tells. Level 1 listings escalate to Level 2 per allocation: for a
// /24 at more than 4, sooner for smaller ones (one for less than a /26).
func DefaultZones() []DNSBLZone {
	return []DNSBLZone{
		{Zone: "dnsbl-1.uceprotect.net", Name: "UCEPROTECT L1", Form: FormIP, Codes: []string{"127.0.0.2"}, Per24: true},
		{Zone: "dnsbl-2.uceprotect.net", Name: "UCEPROTECT L2", Form: FormIP, Codes: []string{"127.0.0.2"}},
		{Zone: "dnsbl-3.uceprotect.net", Name: "UCEPROTECT L3", Form: FormRange, Codes: []string{"127.0.0.2"}},
		{Zone: "bl.spamcop.net", Name: "SpamCop", Form: FormIP, Codes: []string{"127.0.0.2"}},
		{Zone: "psbl.surriel.com", Name: "PSBL", Form: FormIP, Codes: []string{"127.0.0.2"}},
	}
}

func (l *ListingsConfig) validate(bad func(key, format string, args ...any) error) error {
	if l.Resolver == "" {
		l.Resolver = "127.0.0.1:53"
	}
	if l.Rate == 0 {
		l.Rate = 50
	}
	if l.Timeout == 0 {
		l.Timeout = yamlconf.Duration(5 * time.Second)
	}
	if l.WarnPer24 == 0 {
		l.WarnPer24 = 3
	}
	if l.EscalationPer24 == 0 {
		l.EscalationPer24 = 5
	}
	if l.Zones == nil {
		l.Zones = DefaultZones()
	}
	if l.AccountsTimeout == 0 {
		l.AccountsTimeout = yamlconf.Duration(time.Minute)
	}
	if l.AccountsTimeout < 0 {
		return bad("listings.accounts_timeout", "must be above 0")
	}
	if l.Accounts != nil && (len(l.Accounts) == 0 || l.Accounts[0] == "") {
		return bad("listings.accounts", "want a command and its arguments, e.g. [milterctl, accounts, by-ip, --json]")
	}
	if len(l.Zones) == 0 {
		return bad("listings.zones", "is empty: remove it for the defaults, or name the lists to ask")
	}
	if len(l.Ranges) == 0 {
		return bad("listings.ranges", "is required: the ISP's own ranges")
	}
	if _, err := netip.ParseAddrPort(l.Resolver); err != nil {
		return bad("listings.resolver", "want IP:port: %v", err)
	}
	if l.Rate < 0 || l.Timeout < 0 {
		return bad("listings", "rate and timeout must be above 0")
	}
	if l.WarnPer24 > l.EscalationPer24 {
		return bad("listings.warn_per24", "must be at most escalation_per24 (%d): the warning comes before", l.EscalationPer24)
	}
	for _, p := range l.Ranges {
		if !netip.Prefix(p).Addr().Is4() {
			return bad("listings.ranges", "%s: only IPv4 ranges are watched (DNSBLs list IPv6 by other rules)", netip.Prefix(p))
		}
	}
	// An address in two ranges would be asked twice and counted twice in
	// its /24: a false escalation warning. Ranges nest or are apart, so in
	// the order of their first address an overlap is between neighbours.
	sorted := slices.SortedFunc(slices.Values(prefixes(l.Ranges)), func(a, b netip.Prefix) int {
		if c := a.Masked().Addr().Compare(b.Masked().Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i-1].Overlaps(sorted[i]) {
			return bad("listings.ranges", "%s overlaps %s: give each address once", sorted[i].Masked(), sorted[i-1].Masked())
		}
	}
	seen := map[string]bool{}
	for i := range l.Zones {
		z := &l.Zones[i]
		key := fmt.Sprintf("listings.zones[%d]", i)
		if _, ok := dns.IsDomainName(z.Zone); !ok || z.Zone == "" {
			return bad(key+".zone", "%q: want a DNS zone", z.Zone)
		}
		z.Zone = strings.TrimSuffix(strings.ToLower(z.Zone), ".")
		if seen[z.Zone] {
			return bad(key+".zone", "%s given twice", z.Zone)
		}
		seen[z.Zone] = true
		if z.Name == "" {
			z.Name = z.Zone
		}
		if z.Form == "" {
			z.Form = FormIP
		}
		if z.Form != FormIP && z.Form != FormRange {
			return bad(key+".form", "%q: want ip or range", z.Form)
		}
		if len(z.Codes) == 0 {
			z.Codes = []string{"127.0.0.2"}
		}
		for _, c := range z.Codes {
			if _, err := netip.ParseAddr(c); err != nil {
				return bad(key+".codes", "%q: want IPv4 addresses, e.g. 127.0.0.2", c)
			}
		}
		if z.Key != "" {
			if _, ok := dns.IsDomainName(z.Key); !ok || strings.Contains(z.Key, ".") {
				return bad(key+".key", "want one DNS label")
			}
		}
	}
	if n := l.queryCount(); n > maxListingQueries {
		return bad("listings", "%d queries a run (ranges times zones): at most %d; watch fewer ranges or zones", n, maxListingQueries)
	}
	return nil
}

// lookup is one DNSBL query.
type lookup struct {
	zone *DNSBLZone
	addr netip.Addr
}

func (l *ListingsConfig) queryCount() int {
	n := 0
	for _, z := range l.Zones {
		for _, p := range l.Ranges {
			pp := netip.Prefix(p)
			switch z.Form {
			case FormIP:
				n += 1 << (32 - pp.Bits())
			case FormRange:
				n++
			}
		}
	}
	return n
}

func (l *ListingsConfig) lookups() []lookup {
	var out []lookup
	for i := range l.Zones {
		z := &l.Zones[i]
		for _, p := range l.Ranges {
			pp := netip.Prefix(p).Masked()
			switch z.Form {
			case FormRange:
				out = append(out, lookup{z, pp.Addr()})
			default:
				for a := pp.Addr(); a.IsValid() && pp.Contains(a); a = a.Next() {
					out = append(out, lookup{z, a})
				}
			}
		}
	}
	return out
}

// qname is the DNSBL query name: the address's octets reversed, the key,
// the zone.
func (k lookup) qname() string {
	b := k.addr.As4()
	name := fmt.Sprintf("%d.%d.%d.%d.", b[3], b[2], b[1], b[0])
	if k.zone.Key != "" {
		name += k.zone.Key + "."
	}
	return name + k.zone.Zone + "."
}

// Listing is an address a list lists.
type Listing struct {
	Addr     netip.Addr `json:"addr"`
	Zone     string     `json:"zone"`
	Name     string     `json:"name"`
	Form     string     `json:"form"` // range: the list lists the network the address stands for
	Codes    []string   `json:"codes"`
	Since    time.Time  `json:"since"`
	Customer string     `json:"customer,omitempty"`
	// The accounts that logged in from Addr (listings.accounts), most
	// recent first.
	Accounts []AccountLogin `json:"accounts,omitempty"`
}

func (l Listing) key() string { return l.Zone + " " + l.Addr.String() }

// Net24 is one /24's count of addresses listed in a zone counted per /24.
type Net24 struct {
	Net   netip.Prefix `json:"net"`
	Zone  string       `json:"zone"`
	Name  string       `json:"name"`
	Count int          `json:"count"`
	// warn: at warn_per24 or above; escalation: at escalation_per24 or
	// above (the list lists the whole allocation, UCEPROTECT L2).
	Level string `json:"level,omitempty"`
}

// Listings is one run of the watch, kept as state_dir/listings.json.
type Listings struct {
	Time     time.Time `json:"time"`
	Queries  int       `json:"queries"`
	Listed   []Listing `json:"listed"`
	Errors   []string  `json:"errors,omitempty"`   // queries that failed: their addresses keep their earlier state
	New      []Listing `json:"new,omitempty"`      // listed now, not on the run before
	Delisted []Listing `json:"delisted,omitempty"` // listed on the run before, asked again and not listed
	Per24    []Net24   `json:"per24,omitempty"`    // every /24 with a listed address
}

func listingsFile(dir string) string { return filepath.Join(dir, "listings.json") }

// Resolve asks one query through the resolver: the A records of name, or
// none when the name does not exist (NXDOMAIN) or has no address. The
// caller waited on lim for the first try; a retry and the TCP query of a
// truncated answer wait on it too (listings.rate counts every query the
// resolver gets).
func resolve(ctx context.Context, c *dns.Client, lim *rate.Limiter, server, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.RecursionDesired = true
	var (
		r   *dns.Msg
		err error
	)
	for try := 0; try < 2; try++ { // UDP is lossy: one retry
		if try > 0 {
			if err := lim.Wait(ctx); err != nil {
				return nil, err
			}
		}
		r, _, err = c.ExchangeContext(ctx, m, server)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err == nil && r.Truncated {
		// The records did not fit (RFC 1035 4.2.1): an empty truncated
		// answer is no "not listed". Asked again over TCP (RFC 7766).
		tc := *c
		tc.Net = "tcp"
		if err := lim.Wait(ctx); err != nil {
			return nil, err
		}
		r, _, err = tc.ExchangeContext(ctx, m, server)
		if err == nil && r.Truncated {
			err = errors.New("truncated answer, over TCP too")
		}
	}
	if err != nil {
		return nil, err
	}
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, name) || r.Question[0].Qtype != dns.TypeA {
		// A forged or confused answer (RFC 5452 9.1): it says nothing of
		// name.
		return nil, fmt.Errorf("answer to another question: %v", r.Question)
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, nil
	default:
		return nil, fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
	}
	// The A records of name, or of the names its CNAMEs in the answer
	// lead to (RFC 1034 3.6.2: a resolver gives the chain with the
	// answer): a listing aliased elsewhere is a listing.
	names := map[string]bool{strings.ToLower(name): true}
	for range r.Answer { // each round adds a link, or the chain is whole
		grew := false
		for _, rr := range r.Answer {
			if c, ok := rr.(*dns.CNAME); ok && names[strings.ToLower(c.Hdr.Name)] && !names[strings.ToLower(c.Target)] {
				names[strings.ToLower(c.Target)], grew = true, true
			}
		}
		if !grew {
			break
		}
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok && names[strings.ToLower(a.Hdr.Name)] {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// WatchListings asks every zone about the ranges through the resolver, at
// listings.rate, and diffs the answers against the run before: an
// address whose query failed keeps its earlier state (a lost answer is
// not a delisting). The run is kept, the metrics written, and the alert
// told of new listings, delistings and /24s at warn_per24 or above.
func WatchListings(ctx context.Context, cfg *Config, now time.Time, log *slog.Logger) (*Listings, error) {
	lc := cfg.Listings
	if lc == nil {
		return nil, errors.New("no listings: section in the config")
	}
	var cust []customerRange
	if cfg.Customers != "" {
		var err error
		if cust, err = loadCustomers(cfg.Customers); err != nil {
			return nil, err
		}
	}
	unlock, err := lock(ctx, cfg.StateDir, "listings.lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	var prev Listings
	if b, err := os.ReadFile(listingsFile(cfg.StateDir)); err == nil {
		if err := json.Unmarshal(b, &prev); err != nil {
			log.Warn("earlier listings damaged: every listing reads as new", "file", listingsFile(cfg.StateDir), "err", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	before := map[string]Listing{}
	for _, l := range prev.Listed {
		before[l.key()] = l
	}
	ls := lc.lookups()
	lim := rate.NewLimiter(rate.Limit(lc.Rate), 1)
	client := &dns.Client{Net: "udp", Timeout: time.Duration(lc.Timeout)}
	// Each zone's test entries first (RFC 5782 5): a list that does not
	// list 127.0.0.2 does not answer this resolver (refused, shut down),
	// and one that lists 127.0.0.1 lists everything; either way its
	// answers say nothing, and its addresses keep their earlier state.
	broken := map[string]error{}
	probes := 0
	for i := range lc.Zones {
		z := &lc.Zones[i]
		for _, probe := range []struct {
			addr   string
			listed bool
		}{{"127.0.0.2", true}, {"127.0.0.1", false}} {
			if err := lim.Wait(ctx); err != nil {
				return nil, err
			}
			probes++
			codes, err := resolve(ctx, client, lim, lc.Resolver, lookup{z, netip.MustParseAddr(probe.addr)}.qname())
			if err == nil && (len(codes) > 0) != probe.listed {
				err = fmt.Errorf("test entry %s listed: %v, want %v (RFC 5782 5): the list does not answer this resolver, or lists everything", probe.addr, len(codes) > 0, probe.listed)
			}
			if err != nil {
				broken[z.Zone] = err
				break
			}
		}
	}
	ls = slices.DeleteFunc(ls, func(k lookup) bool { return broken[k.zone.Zone] != nil })
	type result struct {
		k     lookup
		codes []string
		err   error
	}
	results := make([]result, len(ls))
	// A list (or the resolver) that stops answering mid-run is given up
	// after maxFailuresInARow failed queries in a row: its remaining
	// addresses keep their earlier state, and the run ends in bounded
	// time (each query can take two timeouts).
	failures := map[string]*atomic.Int32{}
	gaveUp := map[string]*atomic.Bool{}
	for _, z := range lc.Zones {
		failures[z.Zone], gaveUp[z.Zone] = new(atomic.Int32), new(atomic.Bool)
	}
	var asked atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(16, len(ls)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				z := ls[i].zone.Zone
				if gaveUp[z].Load() {
					results[i] = result{ls[i], nil, errGaveUp}
					continue
				}
				asked.Add(1)
				codes, err := resolve(ctx, client, lim, lc.Resolver, ls[i].qname())
				results[i] = result{ls[i], codes, err}
				if err == nil {
					failures[z].Store(0)
				} else if failures[z].Add(1) >= maxFailuresInARow {
					gaveUp[z].Store(true)
				}
			}
		}()
	}
	for i := range ls {
		if gaveUp[ls[i].zone.Zone].Load() {
			results[i] = result{ls[i], nil, errGaveUp} // not asked: no wait for the rate
			continue
		}
		if err = lim.Wait(ctx); err != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, err // cut short: nothing kept
	}
	run := &Listings{Time: now.UTC(), Queries: int(asked.Load()) + probes}
	for _, z := range lc.Zones {
		if gaveUp[z.Zone].Load() {
			run.Errors = append(run.Errors, fmt.Sprintf("%s: %v after %d failed queries in a row (the list or the resolver stopped answering): the addresses not asked keep their earlier state", z.Zone, errGaveUp, maxFailuresInARow))
		}
	}
	for zone, err := range broken {
		run.Errors = append(run.Errors, fmt.Sprintf("%s: %v", zone, err))
		for _, l := range prev.Listed {
			if l.Zone == zone {
				run.Listed = append(run.Listed, l) // not asked: the earlier state stands
			}
		}
	}
	for _, r := range results {
		l := Listing{Addr: r.k.addr, Zone: r.k.zone.Zone, Name: r.k.zone.Name, Form: r.k.zone.Form, Since: run.Time,
			Customer: customerOf(cust, r.k.addr)}
		old, was := before[l.key()]
		if r.err == nil {
			for _, c := range r.codes {
				if !slices.Contains(r.k.zone.Codes, c) {
					r.err = fmt.Errorf("answer %s is not a listing code of the zone (a refusal, e.g. Spamhaus 127.255.255.x, or a changed list)", c)
					break
				}
			}
		}
		if r.err != nil {
			if r.err != errGaveUp { // said once for the zone
				run.Errors = append(run.Errors, fmt.Sprintf("%s: %v", strings.TrimSuffix(r.k.qname(), "."), r.err))
			}
			if was {
				run.Listed = append(run.Listed, old) // unknown now: the earlier state stands
			}
			continue
		}
		switch {
		case len(r.codes) > 0 && was:
			old.Codes, old.Customer = r.codes, l.Customer
			run.Listed = append(run.Listed, old)
		case len(r.codes) > 0:
			l.Codes = r.codes
			run.Listed = append(run.Listed, l)
			run.New = append(run.New, l)
		case was:
			run.Delisted = append(run.Delisted, old)
		}
	}
	// A listing of a zone or range no longer watched is dropped: it was
	// not asked about, so it is not reported delisted either.
	for _, l := range [][]Listing{run.Listed, run.New, run.Delisted} {
		slices.SortFunc(l, func(a, b Listing) int {
			if c := a.Addr.Compare(b.Addr); c != 0 {
				return c
			}
			return strings.Compare(a.Zone, b.Zone)
		})
	}
	run.Per24 = per24(run.Listed, lc)
	var who map[netip.Addr][]AccountLogin // the earlier run's accounts are not kept: each run asks afresh
	if len(lc.Accounts) > 0 {
		var addrs []netip.Addr
		for _, ls := range [][]Listing{run.Listed, run.Delisted} {
			for _, l := range ls {
				if l.Form != FormRange { // a range's first address stands for the range: nobody sent from it as such
					addrs = append(addrs, l.Addr)
				}
			}
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		if len(addrs) > 0 {
			if who, err = accountsOf(ctx, lc, slices.Compact(addrs)); err != nil {
				// The listings stand without their accounts.
				log.Error("listed addresses not mapped to accounts", "err", err)
				run.Errors = append(run.Errors, "accounts: "+err.Error())
			}
		}
	}
	for _, ls := range [][]Listing{run.Listed, run.New, run.Delisted} {
		for i := range ls {
			if ls[i].Form != FormRange {
				ls[i].Accounts = who[ls[i].Addr]
			} else {
				ls[i].Accounts = nil
			}
		}
	}
	slices.Sort(run.Errors)
	var warn []Net24
	for _, n := range run.Per24 {
		if n.Level != "" {
			warn = append(warn, n)
		}
	}
	var body []byte
	if len(run.New)+len(run.Delisted)+len(warn) > 0 {
		body, _ = json.Marshal(struct {
			Event    string    `json:"event"`
			New      []Listing `json:"new"`
			Delisted []Listing `json:"delisted"`
			Per24    []Net24   `json:"per24"`
			Errors   int       `json:"errors"`
		}{"relayprobe-listings", run.New, run.Delisted, warn, len(run.Errors)})
	}
	// Kept before listings.json makes it told (see keepAlert).
	if err := keepAlert(ctx, cfg, body); err != nil {
		return nil, fmt.Errorf("keeping the alert: %w", err)
	}
	js, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(listingsFile(cfg.StateDir), append(js, '\n'), 0o640); err != nil {
		return nil, err
	}
	if lc.Metrics != "" {
		if err := writeAtomic(lc.Metrics, run.metrics(lc), 0o644); err != nil {
			log.Error("listings metrics", "err", err)
		}
	}
	log.Info("listings checked", "queries", run.Queries, "listed", len(run.Listed), "new", len(run.New),
		"delisted", len(run.Delisted), "errors", len(run.Errors))
	for _, n := range warn {
		log.Warn("listed addresses in a /24", "net", n.Net, "zone", n.Name, "count", n.Count, "level", n.Level,
			"escalation_per24", lc.EscalationPer24)
	}
	tell(ctx, cfg, log)
	return run, nil
}

// per24 counts listed addresses per /24, in the zones counted so.
func per24(listed []Listing, lc *ListingsConfig) []Net24 {
	counted := map[string]bool{}
	for _, z := range lc.Zones {
		counted[z.Zone] = z.Per24
	}
	counts := map[string]*Net24{}
	for _, l := range listed {
		if !counted[l.Zone] {
			continue
		}
		p, _ := l.Addr.Prefix(24)
		k := l.Zone + " " + p.String()
		if counts[k] == nil {
			counts[k] = &Net24{Net: p, Zone: l.Zone, Name: l.Name}
		}
		counts[k].Count++
	}
	var out []Net24
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		n := *counts[k]
		switch {
		case n.Count >= lc.EscalationPer24:
			n.Level = "escalation"
		case n.Count >= lc.WarnPer24:
			n.Level = "warn"
		}
		out = append(out, n)
	}
	return out
}

// metrics is the run in Prometheus's text format, for node_exporter's
// textfile collector.
func (run *Listings) metrics(lc *ListingsConfig) []byte {
	var b bytes.Buffer
	listed := map[string]int{}
	worst := map[string]int{}
	for _, l := range run.Listed {
		listed[l.Zone]++
	}
	for _, n := range run.Per24 {
		worst[n.Zone] = max(worst[n.Zone], n.Count)
	}
	b.WriteString("# HELP relayprobe_listed_addresses Addresses of the watched ranges a DNSBL lists.\n# TYPE relayprobe_listed_addresses gauge\n")
	for _, z := range lc.Zones {
		fmt.Fprintf(&b, "relayprobe_listed_addresses{zone=%q,name=%q} %d\n", z.Zone, z.Name, listed[z.Zone])
	}
	b.WriteString("# HELP relayprobe_listed_per24_max The most listed addresses in one /24 (zones asked per address).\n# TYPE relayprobe_listed_per24_max gauge\n")
	for _, z := range lc.Zones {
		if z.Per24 {
			fmt.Fprintf(&b, "relayprobe_listed_per24_max{zone=%q,name=%q} %d\n", z.Zone, z.Name, worst[z.Zone])
		}
	}
	fmt.Fprintf(&b, "# HELP relayprobe_listings_escalation_per24 The per-/24 count at which a list escalates.\n# TYPE relayprobe_listings_escalation_per24 gauge\nrelayprobe_listings_escalation_per24 %d\n", lc.EscalationPer24)
	fmt.Fprintf(&b, "# HELP relayprobe_listings_query_errors Queries of the last run that failed.\n# TYPE relayprobe_listings_query_errors gauge\nrelayprobe_listings_query_errors %d\n", len(run.Errors))
	fmt.Fprintf(&b, "# HELP relayprobe_listings_last_run_timestamp_seconds When the last run ended.\n# TYPE relayprobe_listings_last_run_timestamp_seconds gauge\nrelayprobe_listings_last_run_timestamp_seconds %d\n", run.Time.Unix())
	return b.Bytes()
}

// WriteListings writes the run for people: listings with their customer,
// what changed, the /24 counts, the failed queries.
func WriteListings(w io.Writer, run *Listings) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDR\tLIST\tCODES\tSINCE\tCUSTOMER\tACCOUNTS")
	for _, l := range run.Listed {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Addr, l.Name, strings.Join(l.Codes, ","), l.Since.Format(time.RFC3339), dash(l.Customer), accountNames(l))
	}
	tw.Flush()
	for _, l := range run.New {
		fmt.Fprintf(w, "new       %s %s %s %s\n", l.Addr, l.Name, dash(l.Customer), accountNames(l))
	}
	for _, l := range run.Delisted {
		fmt.Fprintf(w, "delisted  %s %s %s %s\n", l.Addr, l.Name, dash(l.Customer), accountNames(l))
	}
	for _, n := range run.Per24 {
		fmt.Fprintf(w, "per24     %s %s %d%s\n", n.Net, n.Name, n.Count, map[string]string{"": "", "warn": " WARNING: near escalation", "escalation": " ESCALATION"}[n.Level])
	}
	for _, e := range run.Errors {
		fmt.Fprintf(w, "error     %s\n", e)
	}
	return nil
}

// accountNames lists l's accounts, comma-separated; "-" for none.
func accountNames(l Listing) string {
	names := make([]string, len(l.Accounts))
	for i, a := range l.Accounts {
		names[i] = a.Account
	}
	return dash(strings.Join(names, ","))
}

// WriteListingsJSON writes the run as JSON lines: one object per listing,
// change, /24 and error, each with its type.
func WriteListingsJSON(w io.Writer, run *Listings) error {
	enc := json.NewEncoder(w)
	emit := func(typ string, v any) error {
		b, _ := json.Marshal(v)
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			m = map[string]any{"value": v}
		}
		m["type"] = typ
		return enc.Encode(m)
	}
	for _, l := range run.Listed {
		if err := emit("listed", l); err != nil {
			return err
		}
	}
	for _, l := range run.New {
		emit("new", l)
	}
	for _, l := range run.Delisted {
		emit("delisted", l)
	}
	for _, n := range run.Per24 {
		emit("per24", n)
	}
	for _, e := range run.Errors {
		emit("error", map[string]string{"error": e})
	}
	return nil
}
