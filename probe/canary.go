package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Arrival is a token that reached the canary.
type Arrival struct {
	Time  time.Time `json:"time"`
	Token string    `json:"token"`
	Via   string    `json:"via"`  // "mail": in a message delivered to the canary; "connection": in a command
	Peer  string    `json:"peer"` // who connected: the relay, or the proxy's way out
	// Received is the topmost Received header of the mail: the relay's own
	// account of the hand-over, the evidence an abuse desk quotes.
	Received string `json:"received,omitempty"`
}

// Canary is the SMTP listener the scanned hosts are asked to reach. It is
// our own small server, not go-smtp: it must take any bytes a proxy
// forwards (HTTP request lines before any SMTP), find tokens anywhere in
// them, and show a proof in its banner; everything else it needs of SMTP
// is to accept one message at a time. It is on the Internet: every session
// is bounded (lines, header, message, bytes, time, sessions at once), and
// it keeps arrivals only of tokens minted with its key, a few per token,
// for canaryKeep.
type Canary struct {
	Domain string
	Key    Key // mints and checks tokens and banner proofs; an external canary's is its secret, the API's bearer token
	Log    *slog.Logger

	idle, maxSession time.Duration // canaryIdle, canarySession; shorter in tests
	sessions         chan struct{} // a slot per session open at once
	mu               sync.Mutex
	arrivals         map[string][]Arrival
	perPeer          map[netip.Prefix]int // sessions open by peerKey
	lastPrune        time.Time
}

// NewCanary returns a canary for domain; a nil key gets a random one (a
// canary that lives as long as one scan).
func NewCanary(domain string, key Key, log *slog.Logger) *Canary {
	if key == nil {
		var b [32]byte
		rand.Read(b[:])
		key = Key(hex.EncodeToString(b[:])) // text: it is also the API's bearer token
	}
	return &Canary{Domain: domain, Key: key, Log: log, arrivals: map[string][]Arrival{},
		idle: canaryIdle, maxSession: canarySession, sessions: make(chan struct{}, canaryMaxSessions)}
}

// Key is the canary's secret. Tokens and the banner's proof are made with
// it (HMAC-SHA256), so that the canary can tell its scanners' tokens from
// anything else, and what a proxy carries back proves it reached this
// canary without showing the key (which an external canary's API takes as
// its bearer token).
type Key []byte

func (k Key) mac(label string, b []byte) []byte {
	h := hmac.New(sha256.New, k)
	h.Write([]byte(label))
	h.Write(b)
	return h.Sum(nil)
}

// tokens are "rp", 16 random hex digits and 16 of their MAC: unguessable,
// checked by the canary, and found in any text.
var tokenRE = regexp.MustCompile(`rp[0-9a-f]{32}`)

// NewToken mints a token.
func (k Key) NewToken() string {
	var r [8]byte
	rand.Read(r[:])
	return "rp" + hex.EncodeToString(r[:]) + hex.EncodeToString(k.mac("token", r[:])[:8])
}

func (k Key) validToken(t string) bool {
	if len(t) != 34 {
		return false
	}
	r, err1 := hex.DecodeString(t[2:18])
	m, err2 := hex.DecodeString(t[18:])
	return err1 == nil && err2 == nil && hmac.Equal(m, k.mac("token", r)[:8])
}

// The banner's proof: "rpk", a nonce of 16 hex digits and 32 of its MAC. A
// new one per session; only the key's holder can make or check one.
var proofRE = regexp.MustCompile(`rpk([0-9a-f]{16})([0-9a-f]{32})`)

func (k Key) newProof() string {
	var n [8]byte
	rand.Read(n[:])
	return "rpk" + hex.EncodeToString(n[:]) + hex.EncodeToString(k.mac("banner", n[:])[:16])
}

// proofIndex is where the first valid proof in text starts, or -1.
func (k Key) proofIndex(text string) int {
	for _, m := range proofRE.FindAllStringSubmatchIndex(text, 8) {
		n, _ := hex.DecodeString(text[m[2]:m[3]])
		mac, _ := hex.DecodeString(text[m[4]:m[5]])
		if hmac.Equal(mac, k.mac("banner", n)[:16]) {
			return m[0]
		}
	}
	return -1
}

func (k Key) proofIn(text string) bool { return k.proofIndex(text) >= 0 }

// Banner is a greeting of the canary's, with a new proof.
func (c *Canary) Banner() string {
	return fmt.Sprintf("220 %s ESMTP relayprobe canary %s", c.Domain, c.Key.newProof())
}

// Serve answers connections on l until ctx ends.
func (c *Canary) Serve(ctx context.Context, l net.Listener) error {
	go func() { <-ctx.Done(); l.Close() }()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors under a flood, or a connection reset
			// before it was taken: the canary goes on.
			c.Log.Warn("canary: accept", "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		peer := peerKey(conn.RemoteAddr())
		if !c.takePeer(peer) {
			c.busy(conn)
			continue
		}
		select {
		case c.sessions <- struct{}{}:
			go func() {
				defer func() { <-c.sessions; c.dropPeer(peer) }()
				c.session(conn)
			}()
		default:
			c.dropPeer(peer)
			c.busy(conn)
		}
	}
}

// busy says 421 (RFC 5321 3.8) without waiting for the peer, and hangs up.
func (c *Canary) busy(conn net.Conn) {
	go func() {
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(conn, "421 4.3.2 "+c.Domain+" too busy, try later\r\n")
		conn.Close()
	}()
}

// peerKey is who a session counts against in canaryPerPeer: the IPv4
// address, or the IPv6 /64 (one host has all of a /64).
func peerKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// takePeer counts a session of peer, unless it has canaryPerPeer open: one
// host holding every slot would shut the canary for the hosts under test.
func (c *Canary) takePeer(peer netip.Prefix) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perPeer == nil {
		c.perPeer = map[netip.Prefix]int{}
	}
	if c.perPeer[peer] >= canaryPerPeer {
		return false
	}
	c.perPeer[peer]++
	return true
}

func (c *Canary) dropPeer(peer netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perPeer[peer]--; c.perPeer[peer] <= 0 {
		delete(c.perPeer, peer)
	}
}

// The canary's bounds: every session ends, whatever the peer sends.
const (
	canaryIdle        = 2 * time.Minute
	canarySession     = 5 * time.Minute // a whole session, however active
	canaryMaxLine     = 4096            // longer lines are cut (RFC 5321 4.5.3.1.6 allows 1000)
	canaryMaxHeader   = 64 << 10        // a message's header section; beyond it the message is refused
	canaryMaxReceived = 1024            // the Received header kept as evidence
	canaryMaxMsg      = 1 << 20         // what is searched for tokens; the rest is discarded
	canaryMaxData     = 4 << 20         // a message; beyond it, it is refused and the session ends
	canaryMaxRead     = 8 << 20         // a session, all commands and messages together
	canaryMaxSessions = 256             // at once (the default scan concurrency); more are told 421
	canaryPerPeer     = 16              // at once from one IPv4 address or IPv6 /64; more are told 421
	canaryMaxTokens   = 100000          // tokens with arrivals kept
	canaryPerToken    = 8               // arrivals kept per token
	canaryKeep        = 24 * time.Hour  // how long arrivals are kept
)

var (
	errTooBig       = errors.New("message too big")
	errHeaderTooBig = errors.New("header too big")
)

func (c *Canary) session(nc net.Conn) {
	defer nc.Close()
	peer := nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(peer); err == nil {
		peer = h
	}
	conn := &limitConn{Conn: nc, left: canaryMaxRead}
	end := time.Now().Add(c.maxSession)
	until := func(d time.Duration) time.Time {
		if t := time.Now().Add(d); t.Before(end) {
			return t
		}
		return end
	}
	r := bufio.NewReaderSize(conn, canaryMaxLine)
	reply := func(s string) bool {
		conn.SetWriteDeadline(until(c.idle))
		_, err := conn.Write([]byte(s + "\r\n"))
		return err == nil
	}
	if !reply(c.Banner()) {
		return
	}
	var envelope []string // tokens of this transaction's envelope
	for commands := 0; commands < 1000; commands++ {
		conn.SetReadDeadline(until(c.idle))
		line, err := readLine(r)
		if err != nil {
			return
		}
		toks := tokenRE.FindAllString(line, 16)
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch verb {
		case "HELO", "EHLO":
			c.record(toks, "connection", peer, "")
			if verb == "EHLO" {
				reply("250-" + c.Domain + "\r\n250-SIZE " + strconv.Itoa(canaryMaxData) + "\r\n250 8BITMIME")
			} else {
				reply("250 " + c.Domain)
			}
		case "MAIL", "RCPT":
			if len(envelope) < 64 {
				envelope = append(envelope, toks...)
			}
			reply("250 2.1.0 Ok")
		case "RSET":
			envelope = nil
			reply("250 2.0.0 Ok")
		case "NOOP":
			reply("250 2.0.0 Ok")
		case "DATA":
			if !reply("354 End data with <CR><LF>.<CR><LF>") {
				return
			}
			conn.SetReadDeadline(until(c.idle))
			body, received, err := readData(r)
			switch {
			case errors.Is(err, errTooBig):
				reply("552 5.3.4 message too big")
				return
			case errors.Is(err, errHeaderTooBig):
				reply("552 5.3.4 header too big")
				return
			case err != nil:
				return
			}
			toks := append(envelope, tokenRE.FindAllString(body, 64)...)
			c.record(toks, "mail", peer, received)
			envelope = nil
			reply("250 2.0.0 Ok: recorded by the relayprobe canary")
		case "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			// HTTP request lines a proxy forwarded, or anything else: a
			// token in them still counts as a connection through it.
			c.record(toks, "connection", peer, "")
			reply("502 5.5.2 Command not recognized")
		}
	}
}

// readLine reads one line of at most canaryMaxLine bytes, without its end.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Too long: take what came, drop the rest of the line, which
		// must end, though.
		line = bytes.Clone(line)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil {
			return "", err
		}
	}
	if err != nil && len(line) == 0 {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// readData reads a message up to the lone dot (RFC 5321 4.1.1.4), keeping
// its first canaryMaxMsg bytes and its topmost Received header (at most
// canaryMaxReceived bytes of it). A message over canaryMaxData, or with a
// header over canaryMaxHeader, is refused.
func readData(r *bufio.Reader) (body, received string, err error) {
	var b bytes.Buffer
	inHeader := true
	size := 0
	for {
		line, err := readLine(r)
		if err != nil {
			return "", "", err
		}
		if line == "." {
			break
		}
		if size += len(line) + 2; size > canaryMaxData {
			return "", "", errTooBig
		}
		line = strings.TrimPrefix(line, ".") // RFC 5321 4.5.2
		if inHeader {
			switch {
			case size > canaryMaxHeader:
				return "", "", errHeaderTooBig
			case line == "":
				inHeader = false
			case received == "" && strings.HasPrefix(strings.ToLower(line), "received:"):
				received = line
			case received != "" && !strings.Contains(received, ";") && (line[0] == ' ' || line[0] == '\t'):
				received += " " + strings.TrimSpace(line) // its continuation, up to the date
			}
			if len(received) > canaryMaxReceived {
				received = received[:canaryMaxReceived-1] + ";" // cut, and no more continuation
			}
		}
		if b.Len() < canaryMaxMsg {
			b.WriteString(line + "\n")
		}
	}
	return b.String(), received, nil
}

// record keeps the arrivals of tokens minted with the canary's key, at
// most canaryPerToken per token, of at most canaryMaxTokens tokens, for
// canaryKeep.
func (c *Canary) record(tokens []string, via, peer, received string) {
	if len(tokens) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UTC()
	if now.Sub(c.lastPrune) > time.Minute || len(c.arrivals) >= canaryMaxTokens {
		c.prune(now)
	}
	seen := map[string]bool{}
	for _, t := range tokens {
		if seen[t] || !c.Key.validToken(t) {
			continue
		}
		seen[t] = true
		a, known := c.arrivals[t]
		if len(a) >= canaryPerToken || !known && len(c.arrivals) >= canaryMaxTokens {
			continue
		}
		c.arrivals[t] = append(a, Arrival{Time: now, Token: t, Via: via, Peer: peer, Received: received})
		c.Log.Info("canary: token arrived", "token", t, "via", via, "peer", peer)
	}
}

// prune drops the arrivals of tokens first seen over canaryKeep ago.
func (c *Canary) prune(now time.Time) {
	c.lastPrune = now
	for t, a := range c.arrivals {
		if now.Sub(a[0].Time) > canaryKeep {
			delete(c.arrivals, t)
		}
	}
}

// Arrivals returns what arrived with token.
func (c *Canary) Arrivals(_ context.Context, token string) ([]Arrival, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Arrival(nil), c.arrivals[token]...), nil
}

// ServeHTTP answers a scanner's GET /arrivals?token=T (Authorization:
// Bearer SECRET) for a canary on another host. The secret never appears in
// the SMTP banner.
func (c *Canary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/arrivals" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+string(c.Key))) != 1 {
		http.Error(w, "wrong or missing secret", http.StatusUnauthorized)
		return
	}
	a, _ := c.Arrivals(r.Context(), r.URL.Query().Get("token"))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(a)
}

// canaryAPITimeout bounds one question to an external canary's API.
const canaryAPITimeout = 15 * time.Second

// remoteCanary asks an external canary's API what arrived.
type remoteCanary struct {
	url, secret string
}

func (rc remoteCanary) Arrivals(ctx context.Context, token string) ([]Arrival, error) {
	ctx, cancel := context.WithTimeout(ctx, canaryAPITimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(rc.url, "/")+"/arrivals?token="+token, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+rc.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("canary api: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("canary api: %s", resp.Status)
	}
	var a []Arrival
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("canary api: %w", err)
	}
	return a, nil
}
