package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"outguard/geoip"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// The login spread and spam replay: a simulated day of SASL logins (each
// message's MAIL FROM, as milterd sees them) for normal accounts with the
// patterns an ISP's customers have, and 3 compromised accounts whose
// credentials a botnet uses from 30, 100 and 200 networks, played through
// the real limits engine (CheckMail with login spread, CountSpam, Commit)
// on a store, with a GeoLite2-shaped country and ASN database built for
// the run. The engine's clock is the simulated one; the delay measured is
// the real time from the start of the crossing login to the suspension in
// the store.

// spreadDefaults are the shipped defaults (config.Limits.setDefaults).
var spreadDefaults = limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000,
	UndeliverablePerHour: 10, NetworksPerHour: 12, CountriesPerHour: 4, ASNsPerHour: 6, SpamPerHour: 10}

// login is one message's MAIL FROM: who, from where, whether the spam
// check classes it as spam.
type login struct {
	at      time.Time
	key     string
	addr    netip.Addr
	relay   bool // through the trusted webmail relay: keyed by header
	spam    bool
	pattern string
	cross   string // the signal whose limit this login crosses (compromised accounts)
}

// SpreadResult is what one store's spread replay measured.
type SpreadResult struct {
	Store    string
	Logins   int
	Spam     int
	False    []string
	Delay    map[string]time.Duration // per compromised account
	Signal   map[string]string        // the signal each was suspended for
	Early    []string                 // suspended before the crossing login: a miscount
	MaxHour  map[string][3]int        // per pattern: most networks, countries, ASNs in an hour window
	MaxSpamH int                      // most spam-classed messages of a normal account in an hour
}

// The address plan (all synthetic, never dialled): the ISP's own DSL
// customers in 10.0.0.0/10 (AS64500, DE, a new address every day), offices
// on 10 other German ISPs, 3 mobile carriers with 32 public /24s each
// behind carrier NAT (paired pooling, RFC 6888 REQ-2: one public address
// per subscriber until the mapping times out or the phone re-attaches),
// a traveller's airport (NL), in-flight (US) and hotel (ES) networks, and
// bots in 20.0.0.0/8 over 40 countries and 150 ASNs.
var (
	webmailRelay = netip.MustParseAddr("192.0.2.10")
	trusted      = netip.MustParsePrefix("192.0.2.0/24")
	countries    = []string{"DE", "FR", "NL", "US", "CN", "BR", "IN", "RU", "VN", "ID", "TR", "UA", "PL", "IT", "ES", "MX", "AR", "CO", "TH", "PH",
		"EG", "NG", "ZA", "KR", "JP", "TW", "RO", "BG", "PK", "BD", "IR", "IQ", "MA", "DZ", "KE", "PE", "CL", "VE", "MY", "GB"}
)

func geoDB(t harness.T, dir string) *geoip.DB {
	cw, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatalf("%v", err)
	}
	aw, _ := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", IncludeReservedNetworks: true, RecordSize: 24})
	add := func(cidr, country string, asn uint32) {
		_, n, _ := net.ParseCIDR(cidr)
		cw.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(country)}})
		aw.Insert(n, mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(asn)})
	}
	add("10.0.0.0/10", "DE", 64500)
	for i := range 10 {
		add(fmt.Sprintf("10.%d.0.0/16", 64+i), "DE", uint32(64510+i))
	}
	for c := range 3 {
		add(fmt.Sprintf("172.%d.0.0/16", 16+c), "DE", uint32(64520+c))
	}
	add("192.168.1.0/24", "NL", 64530)
	add("192.168.2.0/24", "US", 64531)
	add("192.168.3.0/24", "ES", 64532)
	for x := range 256 {
		add(fmt.Sprintf("20.%d.0.0/16", x), countries[x%len(countries)], uint32(65000+x%150))
	}
	paths := [2]string{filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")}
	for i, w := range []*mmdbwriter.Tree{cw, aw} {
		f, err := os.Create(paths[i])
		if err != nil {
			t.Fatalf("%v", err)
		}
		w.WriteTo(f)
		f.Close()
	}
	db, err := geoip.Open(geoip.Options{CountryDB: paths[0], ASNDB: paths[1]})
	if err != nil {
		t.Fatalf("%v", err)
	}
	return db
}

// spreadDay generates the day's logins, in time order.
func spreadDay(r *rand.Rand, accounts int, start time.Time) []login {
	var out []login
	addr := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	home := func(day int) netip.Addr { // the DSL line's address of the day
		return addr(fmt.Sprintf("10.%d.%d.%d", r.IntN(64), r.IntN(256), 1+r.IntN(254)))
	}
	for a := range accounts {
		key := fmt.Sprintf("user%d@customer.test", a)
		pattern := []string{"home", "home", "home", "home", "office", "office", "mobile", "mobile", "mobile", "mobile+wifi", "traveller", "webmail"}[r.IntN(12)]
		homeAddr := home(0)
		renew := start.Add(time.Duration(r.Int64N(int64(24 * time.Hour)))) // the DSL line's daily reconnect
		office := addr(fmt.Sprintf("10.%d.%d.%d", 64+r.IntN(10), r.IntN(256), 1+r.IntN(254)))
		carrier := r.IntN(3)
		var mobile netip.Addr
		var mobileUntil time.Time
		mobileAt := func(at time.Time) netip.Addr {
			if at.After(mobileUntil) { // the NAT mapping timed out or the phone re-attached
				mobile = addr(fmt.Sprintf("172.%d.%d.%d", 16+carrier, r.IntN(32), 1+r.IntN(254)))
				mobileUntil = at.Add(time.Duration(5+r.IntN(55)) * time.Minute)
			}
			return mobile
		}
		n := 5 + r.IntN(40)
		times := make([]time.Time, 0, n+20)
		for range n {
			times = append(times, start.Add(time.Duration(r.Int64N(int64(23*time.Hour)))))
		}
		if r.IntN(10) == 0 { // a busy hour: 20 replies in an hour
			at := start.Add(time.Duration(r.Int64N(int64(22 * time.Hour))))
			for i := range 20 {
				times = append(times, at.Add(time.Duration(i)*3*time.Minute))
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		tripStart := start.Add(time.Duration(6+r.IntN(8)) * time.Hour)
		for _, at := range times {
			l := login{at: at, key: key, pattern: pattern, spam: r.IntN(200) == 0}
			if at.After(renew) {
				homeAddr, renew = home(1), renew.Add(24*time.Hour)
			}
			hour := at.Sub(start).Hours()
			switch pattern {
			case "home":
				l.addr = homeAddr
			case "office":
				l.addr = homeAddr
				if hour >= 8 && hour < 17 {
					l.addr = office
				}
			case "mobile":
				l.addr = mobileAt(at)
			case "mobile+wifi": // a phone between home and office Wi-Fi and the carrier
				l.addr = []netip.Addr{homeAddr, office, mobileAt(at)}[r.IntN(3)]
			case "traveller": // home, then airport, in-flight, hotel within the hours of a trip, the phone roaming (home carrier) between
				switch d := at.Sub(tripStart); {
				case d < 0:
					l.addr = homeAddr
				case d < time.Hour:
					l.addr = addr(fmt.Sprintf("192.168.1.%d", 1+r.IntN(254)))
				case d < 3*time.Hour:
					l.addr = addr(fmt.Sprintf("192.168.2.%d", 1+r.IntN(254)))
				default:
					l.addr = []netip.Addr{addr(fmt.Sprintf("192.168.3.%d", 1+r.IntN(254))), mobileAt(at)}[r.IntN(2)]
				}
				if r.IntN(4) == 0 {
					l.addr = mobileAt(at)
				}
			case "webmail":
				l.addr, l.relay = webmailRelay, true
			}
			out = append(out, l)
		}
	}
	// The botnet: credentials used from 30, 100 and 200 bots, a message
	// every 10–30 s from a random bot, 60 % of them classed as spam.
	for i, acct := range compromised {
		bots := []int{30, 100, 200}[i]
		pool := make([]netip.Addr, bots)
		for b := range pool {
			pool[b] = addr(fmt.Sprintf("20.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254)))
		}
		at := start.Add([]time.Duration{6 * time.Hour, 11*time.Hour + 50*time.Minute, 18 * time.Hour}[i])
		for range 300 {
			at = at.Add(time.Duration(10+r.IntN(20)) * time.Second)
			out = append(out, login{at: at, key: acct, addr: pool[r.IntN(bots)], spam: r.IntN(10) < 6, pattern: "botnet"})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// reference counts as the store does (distinct values in the 60 minute
// buckets ending with the login's minute), independently of it: the
// crossing logins of the compromised accounts, and the most any normal
// account reaches, per pattern.
func reference(ls []login, db *geoip.DB, lim limits.Limits) (map[string][3]int, int) {
	type seen map[string]time.Time
	state := map[string]map[string]seen{}
	done := map[string]bool{}
	maxes := map[string][3]int{}
	maxSpam := 0
	for i := range ls {
		l := &ls[i]
		if state[l.key] == nil {
			state[l.key] = map[string]seen{}
		}
		st := state[l.key]
		add := func(sig, v string) {
			if st[sig] == nil {
				st[sig] = seen{}
			}
			st[sig][v] = l.at
		}
		if !l.relay {
			add(limits.SignalNetworks, limits.Network(l.addr).String())
			c, asn := db.Locate(l.addr)
			add(limits.SignalCountries, c)
			add(limits.SignalASNs, fmt.Sprint(asn))
		}
		if l.spam {
			add(limits.SignalSpam, fmt.Sprint(i))
		}
		from := limits.HourWindow(l.at)
		count := func(sig string) int {
			n := 0
			for _, t := range st[sig] {
				if !t.Before(from) {
					n++
				}
			}
			return n
		}
		n := [4]int{count(limits.SignalNetworks), count(limits.SignalCountries), count(limits.SignalASNs), count(limits.SignalSpam)}
		if l.pattern != "botnet" {
			m := maxes[l.pattern]
			for k := range 3 {
				m[k] = max(m[k], n[k])
			}
			maxes[l.pattern] = m
			maxSpam = max(maxSpam, n[3])
			continue
		}
		if done[l.key] {
			continue
		}
		for k, sig := range limits.Signals {
			if lim := lim.Threshold(sig); lim > 0 && n[k] > lim {
				l.cross, done[l.key] = sig, true
				break
			}
		}
	}
	return maxes, maxSpam
}

// RunSpread replays the logins on one store.
// Without geo, no country or ASN database is configured: networks and
// spam alone.
func RunSpread(t harness.T, kind string, accounts int, seed uint64, geo bool) SpreadResult {
	dir := harness.Dir(t, "spread")
	var st limits.Store
	var err error
	ctx := context.Background()
	switch kind {
	case "redis":
		st, err = limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: harness.StartRedis(t).Addr, MaxClockSkew: -1}) // a simulated day, not the server's clock
	case "postgres":
		st, err = limits.OpenPostgres(ctx, harness.StartPostgres(t).DSN+" outguard.max_clock_skew=0") // a simulated day, not the server's clock
	default:
		st, err = limits.OpenSQLite(filepath.Join(dir, "state.db"))
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer st.Close()
	db := geoDB(t, dir)
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Minute)
	ls := spreadDay(rand.New(rand.NewPCG(seed, 3)), accounts, start)
	res := SpreadResult{Store: kind, Delay: map[string]time.Duration{}, Signal: map[string]string{}}
	lim := spreadDefaults
	if !geo {
		res.Store += ", no geoip"
		lim.CountriesPerHour, lim.ASNsPerHour = 0, 0
	}
	res.MaxHour, res.MaxSpamH = reference(ls, db, lim)
	pol, _ := limits.NewPolicy(spreadDefaults, nil)
	var loc limits.Locator = db
	if !geo {
		loc = nil
	}
	var clock time.Time
	eng := &limits.Engine{
		Store: st, Policy: pol, Geo: loc, OnSuspended: policy.Tempfail,
		Accounts: limits.Accounts{Host: host, Trusted: []netip.Prefix{trusted}, TrustedKey: "header", TrustedHeader: "X-Webmail-User"},
		Log:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Now:      func() time.Time { return clock },
	}
	for i, l := range ls {
		clock = l.at
		tx := &policy.Transaction{ID: fmt.Sprint("t", i), QueueID: fmt.Sprintf("Q%08d", i), Conn: policy.Conn{Addr: l.addr}, From: l.key, Rcpts: []string{"x@remote.test"}}
		if l.relay {
			tx.Headers = []policy.Header{{Name: "X-Webmail-User", Value: l.key}}
		} else {
			tx.User = l.key
		}
		began := time.Now()
		v, err := eng.CheckMail(ctx, tx)
		if err == nil && v.Action == policy.Accept {
			v, err = eng.CheckMessage(ctx, tx)
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		if v.Action == policy.Accept && l.spam {
			res.Spam++
			err = eng.CountSpam(ctx, tx, "rspamd add header 7.20/15.00")
		}
		if err == nil && v.Action == policy.Accept {
			_, err = eng.Commit(ctx, tx)
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		res.Logins++
		if l.pattern != "botnet" {
			continue
		}
		_, susp, err := st.Usage(ctx, l.key, clock)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if _, done := res.Delay[l.key]; susp == nil || done {
			continue
		}
		if l.cross == "" {
			res.Early = append(res.Early, l.key)
		}
		res.Delay[l.key], res.Signal[l.key] = time.Since(began), susp.Signal
	}
	susp, err := st.Suspensions(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, s := range susp {
		if !isCompromised(s.Key) {
			res.False = append(res.False, s.Key+" ("+s.Reason+")")
		}
	}
	return res
}

// spreadTable runs the spread replay on every store and prints its table;
// it reports whether every figure met its goal.
func spreadTable(p harness.T, accounts int, seed uint64) bool {
	fmt.Printf("\nLogin spread and spam, a simulated day: %d accounts (home, office, mobile behind carrier NAT, phone on Wi-Fi and carrier, traveller, webmail relay; 1 message in 200 classed as spam) + 3 botnet accounts (30, 100, 200 networks), defaults networks %d, countries %d, ASNs %d, spam %d per hour\n\n",
		accounts, spreadDefaults.NetworksPerHour, spreadDefaults.CountriesPerHour, spreadDefaults.ASNsPerHour, spreadDefaults.SpamPerHour)
	fmt.Println("| store | logins | spam-classed | false suspensions | early | hacked1 | hacked2 | hacked3 |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	ok := true
	var last SpreadResult
	for _, run := range []struct {
		kind string
		geo  bool
	}{{"sqlite", true}, {"redis", true}, {"postgres", true}, {"sqlite", false}} {
		r := RunSpread(p, run.kind, accounts, seed, run.geo)
		row := fmt.Sprintf("| %s | %d | %d | %d %v | %d |", r.Store, r.Logins, r.Spam, len(r.False), r.False, len(r.Early))
		for _, a := range compromised {
			if d, found := r.Delay[a]; found {
				row += fmt.Sprintf(" %s, %.1f ms |", r.Signal[a], float64(d.Microseconds())/1000)
				ok = ok && d <= time.Second
			} else {
				row += " not suspended |"
				ok = false
			}
		}
		fmt.Println(row)
		ok = ok && len(r.False) == 0 && len(r.Early) == 0
		if run.geo {
			last = r
		}
	}
	fmt.Println("\nMost seen by one normal account within an hour window, per pattern (networks / countries / ASNs):")
	var pats []string
	for p := range last.MaxHour {
		pats = append(pats, p)
	}
	sort.Strings(pats)
	for _, p := range pats {
		m := last.MaxHour[p]
		fmt.Printf("- %s: %d / %d / %d\n", p, m[0], m[1], m[2])
	}
	fmt.Printf("- spam-classed messages: %d\n", last.MaxSpamH)
	return ok
}
