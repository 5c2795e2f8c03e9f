package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
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

// ArrivalSource tells what reached the canary: the local Canary, or an
// external one through its API.
type ArrivalSource interface {
	Arrivals(ctx context.Context, token string) ([]Arrival, error)
}

// Scanner runs the tests on every address and port of its targets.
type Scanner struct {
	Config   *Config
	Canary   ArrivalSource
	Secret   string // the canary's banner secret
	Log      *slog.Logger
	Progress io.Writer // a progress line every Config.Progress addresses; nil: silent
	Resolver *net.Resolver

	limiter *rate.Limiter
	dialer  net.Dialer
}

// job is one port of one address.
type job struct {
	addr   netip.AddrPort
	family string // its key in families
}

// Scan probes targets (minus the config's exclude list) and returns the
// findings, confirmed ones once the canary has seen their token.
func (s *Scanner) Scan(ctx context.Context, targets []netip.Prefix) ([]OpenService, error) {
	c := s.Config
	if c.Timeouts.Scan > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.Timeouts.Scan))
		defer cancel()
	}
	// One attempt at a time at the configured rate: a burst of 1.
	s.limiter = rate.NewLimiter(rate.Limit(c.Rate), 1)
	s.dialer = net.Dialer{Timeout: time.Duration(c.Timeouts.Connect)}
	if c.Source != "" {
		s.dialer.LocalAddr = &net.TCPAddr{IP: net.IP(netip.MustParseAddr(c.Source).AsSlice())}
	}
	var (
		mu       sync.Mutex
		findings []OpenService
		wg       sync.WaitGroup
		sem      = make(chan struct{}, c.Concurrency)
	)
	keys := familyKeys()
	// The canary is never a target: it takes every message.
	exclude := prefixes(c.Exclude)
	if ap, err := netip.ParseAddrPort(c.Canary.Address); err == nil {
		exclude = append(exclude, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
	}
	n := 0
	err := eachAddr(targets, exclude, func(a netip.Addr) bool {
		for _, key := range keys {
			for _, p := range c.Ports[key] {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return false
				}
				wg.Add(1)
				go func(j job) {
					defer func() { <-sem; wg.Done() }()
					fs := s.probe(ctx, j)
					mu.Lock()
					findings = append(findings, fs...)
					mu.Unlock()
				}(job{netip.AddrPortFrom(a, uint16(p)), key})
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
	s.Log.Info("probes done", "addresses", n, "candidates", len(findings))
	findings = s.confirm(ctx, findings)
	s.annotate(ctx, findings)
	slices.SortFunc(findings, func(a, b OpenService) int {
		return netip.MustParseAddrPort(a.Target).Compare(netip.MustParseAddrPort(b.Target))
	})
	return findings, ctx.Err()
}

// probe runs the family's tests on one port.
func (s *Scanner) probe(ctx context.Context, j job) []OpenService {
	f := families[j.family].probe(s, ctx, j.addr)
	if f == nil {
		return nil
	}
	f.Time = time.Now().UTC()
	f.Target = j.addr.String()
	return []OpenService{*f}
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
						fs[i].Evidence += ": " + a.Received
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
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if names, err := r.LookupAddr(lctx, ap.Addr().String()); err == nil && len(names) > 0 {
			fs[i].RDNS = strings.TrimSuffix(names[0], ".")
		}
		cancel()
	}
}

// dial opens a connection to addr at the configured rate.
func (s *Scanner) dial(ctx context.Context, addr string) (*conn, error) {
	if err := s.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	nc, err := s.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return s.wrap(nc), nil
}

func (s *Scanner) wrap(nc net.Conn) *conn {
	return &conn{Conn: nc, r: bufio.NewReaderSize(nc, 4096), timeout: time.Duration(s.Config.Timeouts.Reply)}
}

// conn bounds every read and write by the reply timeout.
type conn struct {
	net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

func (c *conn) send(s string) error {
	c.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := io.WriteString(c.Conn, s)
	return err
}

func (c *conn) line() (string, error) {
	c.SetReadDeadline(time.Now().Add(c.timeout))
	return readLine(c.r)
}

// reply reads an SMTP reply (RFC 5321 4.2.1), all its lines joined.
func (c *conn) reply() (int, string, error) {
	var text []string
	for range 100 {
		l, err := c.line()
		if err != nil {
			return 0, strings.Join(text, " "), err
		}
		text = append(text, l)
		if len(l) < 4 || l[3] != '-' {
			return replyCode(l), strings.Join(text, " "), nil
		}
	}
	return 0, strings.Join(text, " "), fmt.Errorf("reply of over 100 lines")
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
