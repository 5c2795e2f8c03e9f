package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
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
// them, and show a secret in its banner; everything else it needs of SMTP
// is to accept one message at a time.
type Canary struct {
	Domain string
	Secret string // in the banner: a proxy test that reads it reached us
	Log    *slog.Logger

	mu       sync.Mutex
	arrivals map[string][]Arrival
}

// NewCanary returns a canary for domain; an empty secret gets a random one.
func NewCanary(domain, secret string, log *slog.Logger) *Canary {
	if secret == "" {
		secret = newToken()
	}
	return &Canary{Domain: domain, Secret: secret, Log: log, arrivals: map[string][]Arrival{}}
}

// tokens are "rp" and 20 hex digits: unguessable, and found in any text.
var tokenRE = regexp.MustCompile(`rp[0-9a-f]{20}`)

func newToken() string {
	var b [10]byte
	rand.Read(b[:])
	return "rp" + hex.EncodeToString(b[:])
}

// Banner is the canary's greeting, with the secret.
func (c *Canary) Banner() string {
	return fmt.Sprintf("220 %s ESMTP relayprobe canary %s", c.Domain, c.Secret)
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
			return err
		}
		go c.session(conn)
	}
}

const (
	canaryIdle    = 2 * time.Minute
	canaryMaxLine = 4096
	canaryMaxMsg  = 1 << 20 // what is read for tokens; the rest is discarded
)

func (c *Canary) session(conn net.Conn) {
	defer conn.Close()
	peer := conn.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(peer); err == nil {
		peer = h
	}
	r := bufio.NewReaderSize(conn, canaryMaxLine)
	reply := func(s string) bool {
		conn.SetWriteDeadline(time.Now().Add(canaryIdle))
		_, err := conn.Write([]byte(s + "\r\n"))
		return err == nil
	}
	if !reply(c.Banner()) {
		return
	}
	var envelope []string // tokens of this transaction's envelope
	for commands := 0; commands < 1000; commands++ {
		conn.SetReadDeadline(time.Now().Add(canaryIdle))
		line, err := readLine(r)
		if err != nil {
			return
		}
		toks := tokenRE.FindAllString(line, -1)
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch verb {
		case "HELO", "EHLO":
			c.record(toks, "connection", peer, "")
			if verb == "EHLO" {
				reply("250-" + c.Domain + "\r\n250 8BITMIME")
			} else {
				reply("250 " + c.Domain)
			}
		case "MAIL", "RCPT":
			envelope = append(envelope, toks...)
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
			body, received, err := readData(r)
			if err != nil {
				return
			}
			toks := append(envelope, tokenRE.FindAllString(body, -1)...)
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
		// Too long: take what came, drop the rest of the line.
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
	}
	if err != nil && len(line) == 0 {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// readData reads a message up to the lone dot (RFC 5321 4.1.1.4), keeping
// its first canaryMaxMsg bytes and its topmost Received header.
func readData(r *bufio.Reader) (body, received string, err error) {
	var b bytes.Buffer
	inHeader := true
	for {
		line, err := readLine(r)
		if err != nil {
			return "", "", err
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".") // RFC 5321 4.5.2
		if inHeader {
			switch {
			case line == "":
				inHeader = false
			case received == "" && strings.HasPrefix(strings.ToLower(line), "received:"):
				received = line
			case received != "" && !strings.Contains(received, ";") && (line[0] == ' ' || line[0] == '\t'):
				received += " " + strings.TrimSpace(line) // its continuation, up to the date
			}
		}
		if b.Len() < canaryMaxMsg {
			b.WriteString(line + "\n")
		}
	}
	return b.String(), received, nil
}

func (c *Canary) record(tokens []string, via, peer, received string) {
	if len(tokens) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range tokens {
		if seen[t] {
			continue
		}
		seen[t] = true
		c.arrivals[t] = append(c.arrivals[t], Arrival{Time: time.Now().UTC(), Token: t, Via: via, Peer: peer, Received: received})
		c.Log.Info("canary: token arrived", "token", t, "via", via, "peer", peer)
	}
}

// Arrivals returns what arrived with token.
func (c *Canary) Arrivals(_ context.Context, token string) ([]Arrival, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Arrival(nil), c.arrivals[token]...), nil
}

// ServeHTTP answers a scanner's GET /arrivals?token=T (Authorization:
// Bearer SECRET) for a canary on another host.
func (c *Canary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/arrivals" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+c.Secret {
		http.Error(w, "wrong or missing secret", http.StatusUnauthorized)
		return
	}
	a, _ := c.Arrivals(r.Context(), r.URL.Query().Get("token"))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(a)
}

// remoteCanary asks an external canary's API what arrived.
type remoteCanary struct {
	url, secret string
}

func (rc remoteCanary) Arrivals(ctx context.Context, token string) ([]Arrival, error) {
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
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("canary api: %w", err)
	}
	return a, nil
}
