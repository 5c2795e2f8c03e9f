package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// OpenService is one open service. Only a token that arrived at the canary
// makes it confirmed; whatever else looked open is suspected.
type OpenService struct {
	Time     time.Time `json:"time"`
	Target   string    `json:"target"`  // ip:port
	Service  string    `json:"service"` // smtp-relay, http-connect, http-post, socks4, socks5, wingate
	Result   string    `json:"result"`  // confirmed or suspected
	Test     string    `json:"test"`    // the test that succeeded
	Evidence string    `json:"evidence"`
	RDNS     string    `json:"rdns,omitempty"`
	Customer string    `json:"customer,omitempty"`

	token string // a relay test's, until the canary has seen it
}

const (
	Confirmed = "confirmed"
	Suspected = "suspected"
)

// Key identifies a finding across scans.
func (f OpenService) Key() string { return f.Target + " " + f.Service }

// How each target (address and port) ended.
const (
	Open        = "open"        // findings, confirmed or suspected
	Closed      = "closed"      // refused the connection, or answered and refused every test
	Unreachable = "unreachable" // no answer in time, no route, or the source address cannot reach it
	Error       = "error"       // something else went wrong: the port was not tested
)

// Outcome is how one target ended. A scan keeps those that were not
// tested to the end (unreachable, error); a target it covered and does
// not list is open (it has findings) or closed.
type Outcome struct {
	Target string `json:"target"` // ip:port
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// ArrivalSource tells what reached the canary: the local Canary, or an
// external one through its API.
type ArrivalSource interface {
	Arrivals(ctx context.Context, token string) ([]Arrival, error)
}

// Scanner runs the tests on every address and port of its targets.
type Scanner struct {
	Config   *Config
	Canary   ArrivalSource
	Key      Key // the canary's: tokens are minted and its banner checked with it
	Log      *slog.Logger
	Progress io.Writer // a progress line every Config.Progress addresses; nil: silent
	Resolver *net.Resolver

	limiter *rate.Limiter
	dialer  net.Dialer
	sem     chan struct{} // a slot per connection open at once
}

// job is one port of one address.
type job struct {
	addr   netip.AddrPort
	family string // its key in families
}

// Scan probes targets (minus the config's exclude list) and returns the
// scan: findings (confirmed once the canary has seen their token), the
// targets not tested to the end, and the scan's health. An error means the
// scan was cut short (ctx, timeouts.scan) and must not be kept.
func (s *Scanner) Scan(ctx context.Context, targets []netip.Prefix) (*Scan, error) {
	c := s.Config
	if c.Timeouts.Scan > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.Timeouts.Scan))
		defer cancel()
	}
	sc := &Scan{Started: time.Now().UTC(), Targets: targets, Exclude: prefixes(c.Exclude), Ports: c.Ports, Counts: map[string]int{}}
	source := s.setup()
	// Health before the run: a source address the host cannot use makes
	// every target unreachable, which must not read as "everything closed".
	if err := checkSource(source); err != nil {
		sc.Problems = append(sc.Problems, err.Error())
		sc.Finished = time.Now().UTC()
		return sc, nil
	}
	if err := s.checkCanary(ctx); err != nil {
		sc.Problems = append(sc.Problems, "the canary is not reachable through the scanner's own path: "+err.Error())
	}
	var (
		mu       sync.Mutex
		findings []OpenService
		wg       sync.WaitGroup
		badFam   = map[string]bool{}
	)
	keys := familyKeys()
	// The canary is never a target: it takes every message.
	exclude := prefixes(c.Exclude)
	if ap, err := netip.ParseAddrPort(c.Canary.Address); err == nil {
		exclude = append(exclude, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
	}
	end := func(j job, fs []OpenService, o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		findings = append(findings, fs...)
		sc.Counts[o.State]++
		if o.State != Open && o.State != Closed {
			o.Target = j.addr.String()
			sc.Outcomes = append(sc.Outcomes, o)
		}
	}
	n := 0
	err := eachAddr(targets, exclude, func(a netip.Addr) bool {
		for _, key := range keys {
			for _, p := range c.Ports[key] {
				j := job{netip.AddrPortFrom(a, uint16(p)), key}
				if source.IsValid() && source.Unmap().Is4() != a.Unmap().Is4() {
					// IPv4 source, IPv6 target or the other way round.
					fam := map[bool]string{true: "IPv4", false: "IPv6"}
					badFam[fmt.Sprintf("source %s is %s: it cannot reach %s targets", source, fam[source.Unmap().Is4()], fam[a.Unmap().Is4()])] = true
					end(j, nil, Outcome{State: Unreachable, Detail: "source address of the other family"})
					continue
				}
				select {
				case s.sem <- struct{}{}:
				case <-ctx.Done():
					return false
				}
				wg.Add(1)
				go func(j job) {
					defer func() { <-s.sem; wg.Done() }()
					fs, o := s.probe(ctx, j)
					end(j, fs, o)
				}(j)
			}
		}
		n++
		if s.Progress != nil && c.Progress > 0 && n%c.Progress == 0 {
			mu.Lock()
			fmt.Fprintf(s.Progress, "relayprobe: %d addresses started, %d findings so far\n", n, len(findings))
			mu.Unlock()
		}
		return true
	})
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, p := range slices.Sorted(maps.Keys(badFam)) {
		sc.Problems = append(sc.Problems, p)
	}
	s.Log.Info("probes done", "addresses", n, "candidates", len(findings))
	findings = s.confirm(ctx, findings)
	s.annotate(ctx, findings)
	slices.SortFunc(findings, func(a, b OpenService) int {
		return netip.MustParseAddrPort(a.Target).Compare(netip.MustParseAddrPort(b.Target))
	})
	slices.SortFunc(sc.Outcomes, func(a, b Outcome) int {
		return netip.MustParseAddrPort(a.Target).Compare(netip.MustParseAddrPort(b.Target))
	})
	sc.Findings = findings
	// Health during the run: a scanner that lost its uplink or sits behind
	// a firewall sees most targets unreachable; the canary must still be
	// reachable at the end.
	total := 0
	for _, v := range sc.Counts {
		total += v
	}
	if untested := sc.Counts[Unreachable] + sc.Counts[Error]; total > 0 && float64(untested) > c.Health.MaxUnreachable*float64(total) {
		sc.Problems = append(sc.Problems, fmt.Sprintf("%d of %d targets unreachable or in error (health.max_unreachable %g)", untested, total, c.Health.MaxUnreachable))
	}
	if len(sc.Problems) == 0 {
		if err := s.checkCanary(ctx); err != nil {
			sc.Problems = append(sc.Problems, "the canary stopped being reachable during the scan: "+err.Error())
		}
	}
	sc.Finished = time.Now().UTC()
	return sc, ctx.Err()
}

// setup readies the dialer, rate limit and connection slots, and returns
// the source address (invalid: the system's choice).
func (s *Scanner) setup() netip.Addr {
	c := s.Config
	// One attempt at a time at the configured rate: a burst of 1.
	s.limiter = rate.NewLimiter(rate.Limit(c.Rate), 1)
	s.dialer = net.Dialer{Timeout: time.Duration(c.Timeouts.Connect)}
	s.sem = make(chan struct{}, c.Concurrency)
	var source netip.Addr
	if c.Source != "" {
		source = netip.MustParseAddr(c.Source)
		s.dialer.LocalAddr = &net.TCPAddr{IP: net.IP(source.AsSlice())}
	}
	return source
}

// checkSource tells whether the host has source and can bind it.
func checkSource(source netip.Addr) error {
	if !source.IsValid() {
		return nil
	}
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IP(source.AsSlice())})
	if err != nil {
		return fmt.Errorf("source %s is not usable on this host: %w", source, err)
	}
	l.Close()
	return nil
}

// checkCanary connects to the canary as the scanned hosts do, from the
// source address, and checks its banner's proof.
// An external canary's API must answer too: without it nothing is
// confirmed, and a proxy test cannot tell.
func (s *Scanner) checkCanary(ctx context.Context) error {
	addr := netip.MustParseAddrPort(s.Config.Canary.Address)
	d := s.dialer
	if src, ok := d.LocalAddr.(*net.TCPAddr); ok && (src.IP.To4() != nil) != addr.Addr().Unmap().Is4() {
		// The targets of the source's family reach a canary of the
		// other (dual-stack hosts): so does this check, from the system's
		// choice of address.
		d.LocalAddr = nil
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return err
	}
	end := time.Now().Add(time.Duration(s.Config.Timeouts.Connection))
	dctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	nc, err := d.DialContext(dctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	cn := s.wrap(ctx, &limitConn{Conn: nc, left: maxConnRead}, end)
	defer cn.Close()
	banner, err := cn.line()
	if err != nil {
		return fmt.Errorf("no banner: %w", err)
	}
	if !s.Key.proofIn(banner) {
		return fmt.Errorf("not our canary: %s", clean(banner))
	}
	cn.send("QUIT\r\n")
	if _, err := s.Canary.Arrivals(ctx, s.Key.NewToken()); err != nil {
		return err
	}
	return nil
}

// probe runs the family's tests on one port.
func (s *Scanner) probe(ctx context.Context, j job) ([]OpenService, Outcome) {
	f, o := families[j.family].probe(s, ctx, j.addr)
	if f == nil {
		return nil, o
	}
	f.Time = time.Now().UTC()
	f.Target = j.addr.String()
	return []OpenService{*f}, Outcome{State: Open}
}

// dialOutcome is how a target that could not be reached ends: refused
// means nothing listens (closed); anything else leaves it untested. The
// detail is short: a scan of a large range may keep many of them.
func dialOutcome(err error) Outcome {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Outcome{State: Closed}
	case isTimeout(err), errors.Is(err, os.ErrDeadlineExceeded):
		return Outcome{State: Unreachable, Detail: "connect: timeout"}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM),
		errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.ENETDOWN), errors.Is(err, syscall.EAFNOSUPPORT),
		errors.Is(err, syscall.EINVAL):
		errors.As(err, &errno)
		return Outcome{State: Unreachable, Detail: "connect: " + errno.Error()}
	}
	return Outcome{State: Error, Detail: clean(err.Error())}
}

// noAnswer is the outcome of a port that took the connection and then
// said nothing in time (a tarpit, or a filter in front of it).
func noAnswer(err error) Outcome {
	if isTimeout(err) {
		return Outcome{State: Unreachable, Detail: "no answer: timeout"}
	}
	return Outcome{State: Unreachable, Detail: clean("no answer: " + err.Error())}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// confirm waits up to canary.wait for the relay tests' tokens to arrive.
func (s *Scanner) confirm(ctx context.Context, fs []OpenService) []OpenService {
	deadline := time.Now().Add(time.Duration(s.Config.Canary.Wait))
	for {
		pending := 0
		for i := range fs {
			if fs[i].token == "" {
				continue
			}
			arr, err := s.Canary.Arrivals(ctx, fs[i].token)
			if err != nil {
				s.Log.Error("asking the canary", "err", err)
			}
			for _, a := range arr {
				if a.Via == "mail" {
					fs[i].Result = Confirmed
					fs[i].Evidence += "; arrived at the canary from " + a.Peer
					if a.Received != "" {
						fs[i].Evidence += ": " + clean(a.Received) // the relay's words
					}
					fs[i].token = ""
					break
				}
			}
			if fs[i].token != "" {
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return fs
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// annotate adds reverse DNS names and customer ids.
func (s *Scanner) annotate(ctx context.Context, fs []OpenService) {
	var cust []customerRange
	if s.Config.Customers != "" {
		var err error
		if cust, err = loadCustomers(s.Config.Customers); err != nil {
			s.Log.Error("customer map", "err", err)
		}
	}
	r := s.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	for i := range fs {
		ap := netip.MustParseAddrPort(fs[i].Target)
		fs[i].Customer = customerOf(cust, ap.Addr())
		if ctx.Err() != nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if names, err := r.LookupAddr(lctx, ap.Addr().String()); err == nil && len(names) > 0 {
			fs[i].RDNS = strings.TrimSuffix(names[0], ".")
		}
		cancel()
	}
}

// pause waits d (the greylisting retry) without holding a connection slot.
func (s *Scanner) pause(ctx context.Context, d time.Duration) error {
	<-s.sem
	defer func() { s.sem <- struct{}{} }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxConnRead bounds what is read from one scanned port, whatever it sends.
const maxConnRead = 1 << 20

// dial opens a connection to addr at the configured rate. The connection
// has one deadline, timeouts.connection from now, that bounds all its
// steps, and it is closed when ctx ends, which ends any read or write.
func (s *Scanner) dial(ctx context.Context, addr string) (*conn, error) {
	if err := s.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	end := time.Now().Add(time.Duration(s.Config.Timeouts.Connection))
	dctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	nc, err := s.dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return s.wrap(ctx, &limitConn{Conn: nc, left: maxConnRead}, end), nil
}

// wrap makes nc a conn ending at end or with ctx.
func (s *Scanner) wrap(ctx context.Context, nc net.Conn, end time.Time) *conn {
	c := &conn{Conn: nc, r: bufio.NewReaderSize(nc, 4096), timeout: time.Duration(s.Config.Timeouts.Reply), end: end}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return c
}

// conn bounds every read and write by the reply timeout and all of them
// together by the connection's deadline.
type conn struct {
	net.Conn
	r       *bufio.Reader
	timeout time.Duration
	end     time.Time
	stop    func() bool
}

func (c *conn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.Conn.Close()
}

// deadline is the end of the next step: a reply timeout from now, at most
// the connection's end.
func (c *conn) deadline() time.Time {
	d := time.Now().Add(c.timeout)
	if !c.end.IsZero() && d.After(c.end) {
		d = c.end
	}
	return d
}

func (c *conn) send(s string) error {
	c.SetWriteDeadline(c.deadline())
	_, err := io.WriteString(c.Conn, s)
	return err
}

func (c *conn) line() (string, error) {
	c.SetReadDeadline(c.deadline())
	return readLine(c.r)
}

// reply reads an SMTP reply (RFC 5321 4.2.1), all its lines joined.
func (c *conn) reply() (int, string, error) {
	code, lines, err := c.replyLines()
	return code, strings.Join(lines, " "), err
}

// replyLines reads an SMTP reply line by line: at most 100 lines.
func (c *conn) replyLines() (int, []string, error) {
	var text []string
	for range 100 {
		l, err := c.line()
		if err != nil {
			return 0, text, err
		}
		text = append(text, l)
		if len(l) < 4 || l[3] != '-' {
			return replyCode(l), text, nil
		}
	}
	return 0, text, fmt.Errorf("reply of over 100 lines")
}

// replyCode is the three digits a reply starts with (RFC 5321 4.2), or 0.
func replyCode(l string) int {
	if len(l) < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' {
		return 0
	}
	return int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
}

// cmd sends an SMTP command and reads its reply.
func (c *conn) cmd(s string) (int, string, error) {
	if err := c.send(s + "\r\n"); err != nil {
		return 0, "", err
	}
	return c.reply()
}

// limitConn ends reading after left bytes: a peer that sends forever
// (one endless line, endless headers) is cut off.
type limitConn struct {
	net.Conn
	left int64
}

var errTooMuch = errors.New("peer sent more than the read limit")

func (c *limitConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errTooMuch
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

// eachAddr calls fn for every address of targets outside exclude, once
// each, in order, until fn returns false. Nothing is listed in memory.
func eachAddr(targets, exclude []netip.Prefix, fn func(netip.Addr) bool) error {
	for _, p := range targets {
		if p.Addr().BitLen()-p.Bits() > 24 {
			return fmt.Errorf("target %s: more than 2^24 addresses; split it or scan a smaller range", p)
		}
	}
	for i, p := range targets {
		for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
			if slices.ContainsFunc(exclude, func(x netip.Prefix) bool { return x.Contains(a) }) ||
				slices.ContainsFunc(targets[:i], func(x netip.Prefix) bool { return x.Contains(a) }) {
				continue
			}
			if !fn(a) {
				return nil
			}
		}
	}
	return nil
}

// clean makes untrusted text safe to show and store: printable ASCII,
// bounded.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 300 {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
