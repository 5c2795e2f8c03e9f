// Package clamd is a client for clamd's socket protocol: zPING, zVERSION,
// zINSTREAM over unix or TCP sockets and zFILDES over unix sockets, with
// failover across several clamd instances and a bounded number of scans
// per instance.
//
// Written here rather than taken from an existing Go client: the ones
// published take a whole io.Reader per scan, while a milter must forward
// body chunks as the MTA sends them, with a deadline per chunk.
package clamd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// ChunkSize is the largest INSTREAM chunk we send. clamd accepts chunks up
// to its StreamMaxLength; 64 KiB matches what the MTA hands us.
const ChunkSize = 64 << 10

// ErrOversize means the stream was longer than clamd (or our own limit)
// accepts: the message was not fully scanned.
var ErrOversize = errors.New("clamd: stream longer than the scan limit")

// Addr is a clamd socket: network "unix" or "tcp".
type Addr struct {
	Network, Address string
}

func (a Addr) String() string { return a.Network + ":" + a.Address }

// Options tune a Client. Zero values take the defaults noted.
type Options struct {
	ConnectTimeout time.Duration // per connection attempt; 5s
	IOTimeout      time.Duration // per chunk written; 30s
	ReplyTimeout   time.Duration // for the scan result after the stream ends; 60s
	MaxConns       int           // concurrent connections per clamd (its MaxThreads); 10
	FdPassing      bool          // hand clamd the message's descriptor (zFILDES) when every clamd is on a unix socket
}

// Client talks to one or more clamd instances.
type Client struct {
	backends []*backend
	next     atomic.Uint32
	opt      Options
	local    bool        // every clamd on a unix socket: on this host
	fdOff    atomic.Bool // a clamd could not read a passed descriptor
}

type backend struct {
	addr   Addr
	slots  chan struct{} // one per allowed concurrent connection
	idle   chan *conn    // IDSESSION connections between scans, holding no slot
	answer atomic.Int64  // when clamd last answered a scan (unix ns), 0 after a failed connect: Health
}

// New returns a client for addrs, tried round robin, failing over to the
// next address when one cannot be reached.
func New(addrs []Addr, opt Options) *Client {
	if opt.ConnectTimeout == 0 {
		opt.ConnectTimeout = 5 * time.Second
	}
	if opt.IOTimeout == 0 {
		opt.IOTimeout = 30 * time.Second
	}
	if opt.ReplyTimeout == 0 {
		opt.ReplyTimeout = 60 * time.Second
	}
	if opt.MaxConns == 0 {
		opt.MaxConns = 10
	}
	c := &Client{opt: opt, local: true}
	for _, a := range addrs {
		c.backends = append(c.backends, &backend{addr: a, slots: make(chan struct{}, opt.MaxConns), idle: make(chan *conn, opt.MaxConns)})
		c.local = c.local && a.Network == "unix"
	}
	return c
}

// conn is a connection holding a slot of its backend.
type conn struct {
	net.Conn
	b        *backend
	released bool
	session  bool      // in an IDSESSION: replies carry the request's number
	reused   bool      // taken from idle: clamd may have closed it meanwhile
	parked   time.Time // when it went idle
	reply    []byte    // readReply's buffer, kept between replies
}

// maxIdle is how long a session connection is kept between scans: below
// clamd's IdleTimeout (30s by default), after which clamd closes it.
const maxIdle = 10 * time.Second

// park keeps a session connection for the next scan and releases its slot.
func (c *conn) park() {
	if !c.released {
		c.released = true
		<-c.b.slots
	}
	c.parked, c.reused = time.Now(), false
	select {
	case c.b.idle <- c:
	default:
		c.Conn.Close()
	}
}

func (c *conn) Close() error {
	if !c.released {
		c.released = true
		<-c.b.slots
	}
	return c.Conn.Close()
}

// dial connects to the first reachable backend with a free slot, starting
// round robin. When the reachable ones are all busy it waits for a slot on
// each in turn, at most ConnectTimeout each, and then gives up: the
// caller's failure policy answers, and no session waits without bound.
// With session, it reuses an idle IDSESSION connection of the backend, or
// opens one.
func (c *Client) dial(ctx context.Context, session bool) (*conn, error) {
	n := len(c.backends)
	if n == 0 {
		return nil, errors.New("clamd: no addresses")
	}
	start := int(c.next.Add(1)) % n
	var errs []error
	var busy []*backend
	for i := range n {
		b := c.backends[(start+i)%n]
		select {
		case b.slots <- struct{}{}:
		default:
			busy = append(busy, b) // try the others before waiting
			continue
		}
		cn, err := c.connect(ctx, b, session)
		if err == nil {
			return cn, nil
		}
		errs = append(errs, err)
	}
	for _, b := range busy {
		wait := time.NewTimer(c.opt.ConnectTimeout)
		select {
		case b.slots <- struct{}{}:
			wait.Stop()
			cn, err := c.connect(ctx, b, session)
			if err == nil {
				return cn, nil
			}
			errs = append(errs, err)
		case <-wait.C:
			errs = append(errs, fmt.Errorf("clamd %s: all %d connections busy for %v", b.addr, cap(b.slots), c.opt.ConnectTimeout))
		case <-ctx.Done():
			wait.Stop()
			return nil, fmt.Errorf("clamd: waiting for a free connection: %w", context.Cause(ctx))
		}
	}
	return nil, errors.Join(errs...)
}

// connect returns a connection to b for the slot the caller holds.
func (c *Client) connect(ctx context.Context, b *backend, session bool) (*conn, error) {
	for session {
		select {
		case cn := <-b.idle:
			if time.Since(cn.parked) < maxIdle {
				cn.released, cn.reused = false, true
				return cn, nil
			}
			cn.Conn.Close()
			continue
		default:
		}
		break
	}
	d := net.Dialer{Timeout: c.opt.ConnectTimeout}
	nc, err := d.DialContext(ctx, b.addr.Network, b.addr.Address)
	if err != nil {
		<-b.slots
		b.answer.Store(0) // a clamd that refuses connections is down now, whatever it answered before
		return nil, fmt.Errorf("clamd %s: %w", b.addr, err)
	}
	cn := &conn{Conn: nc, b: b, session: session}
	if session {
		nc.SetWriteDeadline(time.Now().Add(c.opt.IOTimeout))
		if _, err := nc.Write([]byte("zIDSESSION\x00")); err != nil {
			cn.Close()
			return nil, fmt.Errorf("clamd %s: IDSESSION: %w", b.addr, err)
		}
	}
	return cn, nil
}

// command sends a z-command and returns its one reply.
func (c *Client) command(ctx context.Context, cmd string) (string, error) {
	cn, err := c.dial(ctx, false)
	if err != nil {
		return "", err
	}
	defer cn.Close()
	stop := context.AfterFunc(ctx, func() { cn.SetDeadline(time.Now()) })
	defer stop()
	cn.SetDeadline(time.Now().Add(c.opt.ReplyTimeout))
	if _, err := io.WriteString(cn, "z"+cmd+"\x00"); err != nil {
		return "", fmt.Errorf("clamd %s: %s: %w", cn.b.addr, cmd, err)
	}
	return readReply(cn)
}

// maxReply bounds a reply: clamd's are a line naming a stream and a
// signature. Something sending more without a NUL is not a clamd, and
// would otherwise grow the buffer until ReplyTimeout, and the connection
// keep it.
const maxReply = 64 << 10

// readReply reads one NUL-terminated reply (the z-prefixed protocol);
// clamd sends nothing after it until the next request.
func readReply(cn *conn) (string, error) {
	buf := cn.reply[:0]
	if cap(buf) == 0 {
		buf = make([]byte, 0, 256) // a reply in one read(2), as bufio's did
	}
	for {
		if len(buf) >= maxReply {
			cn.reply = nil
			return "", fmt.Errorf("clamd %s: reply longer than %d bytes without its end", cn.b.addr, maxReply)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := cn.Read(buf[len(buf):min(cap(buf), maxReply)])
		buf = buf[:len(buf)+n]
		if i := bytes.IndexByte(buf[len(buf)-n:], 0); i >= 0 {
			cn.reply = buf[:0]
			return string(buf[:len(buf)-n+i]), nil
		}
		if err != nil {
			return "", fmt.Errorf("clamd %s: reading reply: %w", cn.b.addr, err)
		}
	}
}

// healthFresh is how recent an answer to a scan must be for Health to
// take it as clamd's health without asking.
const healthFresh = 10 * time.Second

// Health tells whether a clamd answers, for /readyz, without competing
// with scans: a clamd that answered a scan in the last healthFresh is up
// (busy is not down); otherwise one is asked PING over a connection of the
// probe's own, which takes no scan's slot and waits behind none.
func (c *Client) Health(ctx context.Context) error {
	for _, b := range c.backends {
		if time.Since(time.Unix(0, b.answer.Load())) < healthFresh {
			return nil
		}
	}
	var errs []error
	for _, b := range c.backends {
		err := c.ping(ctx, b)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return errors.New("clamd: no addresses")
	}
	return errors.Join(errs...)
}

// ping sends PING to b over a connection of its own, outside b's slots.
func (c *Client) ping(ctx context.Context, b *backend) error {
	d := net.Dialer{Timeout: c.opt.ConnectTimeout}
	nc, err := d.DialContext(ctx, b.addr.Network, b.addr.Address)
	if err != nil {
		return fmt.Errorf("clamd %s: %w", b.addr, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetDeadline(time.Now().Add(c.opt.ReplyTimeout))
	cn := &conn{Conn: nc, b: b, released: true} // holds no slot
	if _, err := io.WriteString(cn, "zPING\x00"); err != nil {
		return fmt.Errorf("clamd %s: PING: %w", b.addr, err)
	}
	r, err := readReply(cn)
	if err == nil && r != "PONG" {
		err = fmt.Errorf("clamd %s: PING answered %q", b.addr, r)
	}
	return err
}

// Version returns clamd's version line, e.g. "ClamAV 1.4.6/27000/…".
func (c *Client) Version(ctx context.Context) (string, error) {
	return c.command(ctx, "VERSION")
}

// Result is the outcome of a scan.
type Result struct {
	Infected  bool
	Signature string // as clamd named it, e.g. "Eicar-Test-Signature.UNOFFICIAL"
	Raw       string // clamd's whole reply, for the log
}

// Name is the signature without the ".UNOFFICIAL" clamd appends to
// signatures that are not from the official database: what users see.
func (r Result) Name() string { return strings.TrimSuffix(r.Signature, ".UNOFFICIAL") }

// ReplyError is clamd's own error reply ("… ERROR"), as opposed to a
// failure to reach or talk to it.
type ReplyError string

func (e ReplyError) Error() string { return "clamd: " + string(e) }

// ParseReply parses a scan's reply: "stream: OK" (INSTREAM), "fd[10]: OK"
// (FILDES), "…: NAME FOUND" or "… ERROR".
func ParseReply(reply string) (Result, error) {
	res := Result{Raw: reply}
	name, body, ok := strings.Cut(reply, ": ")
	ok = ok && (name == "stream" || strings.HasPrefix(name, "fd["))
	switch {
	case ok && body == "OK":
		return res, nil
	case ok && strings.HasSuffix(body, " FOUND"):
		name := strings.TrimSpace(strings.TrimSuffix(body, " FOUND"))
		if name == "" {
			return res, fmt.Errorf("clamd: FOUND without a name: %q", reply)
		}
		res.Infected, res.Signature = true, name
		return res, nil
	case strings.Contains(reply, "size limit exceeded"):
		return res, ErrOversize
	}
	return res, ReplyError(reply)
}
