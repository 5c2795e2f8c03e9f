// Package web is outguard's web console for the abuse desk and the
// security team: the quarantine, accounts, the audit trail and
// relayprobe's latest scan, as server-rendered pages and a JSON API under
// /api/. It is served by `milterctl web`, which hands it the stores and
// the actions milterctl's commands run, so that a release from the
// console is the same release as from the command line.
//
// Everything shown comes from hostile messages: it is text, escaped by
// html/template, with control characters made visible; no part of a
// message is ever rendered as HTML, and the Content-Security-Policy
// allows no script at all.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"outguard/containment"
	"outguard/limits"
	"outguard/mimewalk"
	"outguard/quarantine"
)

// Actions are the state changes, as milterctl's commands make them
// (exactly once, audited with the operator): the console only decides who
// may call them. Each returns the outcome as the audit trail records it.
type Actions interface {
	Release(ctx context.Context, id, operator string) (string, error)
	Delete(ctx context.Context, id, operator string) (string, error)
	Resolve(ctx context.Context, id, state, operator string) (string, error)
	Suspend(ctx context.Context, account, reason, operator string) (string, error)
	// Unsuspend lifts a suspension; queued is "release" or "delete" for
	// the account's held mail in this host's queue, "" to leave it held.
	Unsuspend(ctx context.Context, account, queued, operator string) (string, error)
	Reset(ctx context.Context, account, operator string) (string, error)
	// SpareCampaign spares campaigns judged innocent (milterctl
	// campaigns spare), queued as for Unsuspend: one line per account;
	// UnspareCampaign ends the spare.
	SpareCampaign(ctx context.Context, ids []string, queued, operator string) ([]string, error)
	UnspareCampaign(ctx context.Context, id, operator string) (string, error)
}

// Options configure the console.
type Options struct {
	Quarantine *quarantine.Store // nil: no quarantine pages
	WalkLimits mimewalk.Limits   // the scanner's, to show the parts as it walked them
	Accounts   limits.Store      // nil: no account pages
	Policy     *limits.Policy    // the limits each account has
	// Queue is this host's MTA queue (limits.mta): an account's page lists
	// its mail in it, held or deferred; nil: none.
	Queue *containment.Containment
	// Login returns the account a login is kept under (case folding).
	Login   func(string) string
	Actions Actions
	// UsersFile holds lines name:hash:role, the hash bcrypt or argon2id.
	UsersFile string
	// TLS: the console is served over TLS; session cookies are Secure.
	TLS bool
	// TrustedProxyHeader names the user a reverse proxy authenticated,
	// believed only from an address in TrustedProxies.
	TrustedProxyHeader string
	TrustedProxies     []netip.Prefix
	// RelayprobeDir is relayprobe's state_dir ("": no relayprobe page).
	RelayprobeDir string
	Log           *slog.Logger
	// LoginBurst failed logins are allowed from one client address, then
	// one every LoginEvery; 0: 5, and one every 12 s.
	LoginBurst int
	LoginEvery time.Duration
}

// Login attempts: each failed one takes a token from its client address's
// bucket; an empty bucket is answered 429 without looking at the password.
const (
	loginBurst    = 5
	loginEvery    = 12 * time.Second // 5 a minute
	maxLimiters   = 10000            // client addresses tracked at once
	sessionMaxAge = 8 * time.Hour
	maxSessions   = 10000
)

// Server is the console's http.Handler.
type Server struct {
	o     Options
	users users
	key   []byte // HMAC key of CSRF tokens: new at every start
	mux   *http.ServeMux
	tmpl  map[string]*template.Template // by page: templates/NAME.html
	// titles are the pages' titles, from their templates' "title" blocks.
	titles map[string]string
	nav    []navItem // the sections, in the navigation's order
	// patterns are the routes served, for the test of the guards.
	patterns []string

	mu       sync.Mutex
	sessions map[string]session
	limiters map[netip.Addr]*rate.Limiter
	checking map[netip.Addr]int // password checks in flight, by bucket
	checked  *sync.Cond         // a check ended (on mu)
}

type session struct {
	user    string
	hash    string // the user's password hash at login: a new password ends the session
	expires time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the console. The users file is read at each request (when
// it changed), so a missing one is not an error here: nobody gets in.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.LoginBurst <= 0 {
		o.LoginBurst = loginBurst
	}
	if o.LoginEvery <= 0 {
		o.LoginEvery = loginEvery
	}
	if o.Login == nil {
		o.Login = func(s string) string { return s }
	}
	s := &Server{o: o, users: users{path: o.UsersFile}, key: make([]byte, 32),
		sessions: map[string]session{}, limiters: map[netip.Addr]*rate.Limiter{}, checking: map[netip.Addr]int{}}
	s.checked = sync.NewCond(&s.mu)
	rand.Read(s.key)
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// user is who makes a request, and how they showed it.
type user struct {
	Name string
	Role Role
	via  string // "basic", "session" or "proxy"
	sid  string // the session's id, for its CSRF token
}

type ctxKey struct{}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No script, no external resource, no framing, no form posting
	// elsewhere: whatever a message smuggles into a page cannot run or
	// call out.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // no-referrer would make a browser's own form posts Origin: null
	h.Set("Cache-Control", "no-store")
	if s.o.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

// clientAddr is the request's peer address.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	a := clientAddr(r)
	for _, p := range s.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var errRateLimited = errors.New("too many failed logins from this address: try again in a minute")

// limiter returns the login bucket of the client's address.
func (s *Server) limiter(a netip.Addr) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limiters[a]
	if l == nil {
		if len(s.limiters) >= maxLimiters {
			// Forget the ones that are full again. When none is (a flood
			// from maxLimiters addresses or more), forget the fullest: a
			// table full of a flood's buckets must not lock everyone out,
			// and the addresses that guessed most stay refused longest.
			var fullest netip.Addr
			most := math.Inf(-1)
			for k, v := range s.limiters {
				tokens := v.Tokens() - float64(s.checking[k])
				if tokens >= float64(s.o.LoginBurst) {
					delete(s.limiters, k)
				} else if tokens > most {
					fullest, most = k, tokens
				}
			}
			if len(s.limiters) >= maxLimiters {
				delete(s.limiters, fullest)
			}
		}
		l = rate.NewLimiter(rate.Every(s.o.LoginEvery), s.o.LoginBurst)
		s.limiters[a] = l
	}
	return l
}

// loginBucket is the address a client's failed logins count against: an
// IPv6 client's /64 (one host, one customer's LAN: an attacker has all of
// its 2^64 addresses), an IPv4 client's address.
func loginBucket(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// password checks a name and password, rate-limited by client address.
func (s *Server) password(r *http.Request, name, pass string) (Role, error) {
	a := loginBucket(clientAddr(r))
	l, ok := s.startCheck(a)
	if !ok {
		return 0, errRateLimited
	}
	role, ok, err := s.users.check(name, pass)
	s.endCheck(a, l, err == nil && !ok)
	if err != nil {
		s.o.Log.Error("web: users file", "err", err)
		return 0, err
	}
	if !ok {
		s.o.Log.Warn("web: failed login", "user", name, "client", clientAddr(r).String())
		return 0, errBadLogin
	}
	return role, nil
}

// startCheck admits a password check from a's bucket: its tokens less
// the checks in flight must leave one, so that guesses sent at once
// cannot all pass a test made before any of them failed. When only the
// checks in flight stand in the way, it waits for them: right passwords
// (a script's parallel calls) give their tokens back.
func (s *Server) startCheck(a netip.Addr) (*rate.Limiter, bool) {
	l := s.limiter(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	for l.Tokens()-float64(s.checking[a]) < 1 {
		if s.checking[a] == 0 {
			return nil, false
		}
		s.checked.Wait()
	}
	s.checking[a]++
	return l, true
}

// endCheck ends a check startCheck admitted; a failed one takes its token.
func (s *Server) endCheck(a netip.Addr, l *rate.Limiter, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checking[a]--; s.checking[a] <= 0 {
		delete(s.checking, a)
	}
	if failed {
		l.Allow()
	}
	s.checked.Broadcast()
}

var errBadLogin = errors.New("wrong user name or password")

const cookieName = "outguard_session"

// authenticate finds the request's user: a trusted proxy's header, HTTP
// Basic, or the session cookie, in that order. An Authorization header
// decides alone: a cookie does not stand in for wrong Basic credentials.
func (s *Server) authenticate(r *http.Request) (user, error) {
	if s.o.TrustedProxyHeader != "" && s.fromTrustedProxy(r) {
		if name := r.Header.Get(s.o.TrustedProxyHeader); name != "" {
			a, ok, err := s.users.lookup(name)
			if err != nil || !ok {
				return user{}, errBadLogin
			}
			return user{Name: name, Role: a.role, via: "proxy"}, nil
		}
	}
	if name, pass, ok := r.BasicAuth(); ok {
		role, err := s.password(r, name, pass)
		if err != nil {
			return user{}, err
		}
		return user{Name: name, Role: role, via: "basic"}, nil
	}
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		sess, ok := s.sessions[c.Value]
		s.mu.Unlock()
		if ok && time.Now().Before(sess.expires) {
			a, ok, err := s.users.lookup(sess.user) // the role as the file says now
			if err == nil && ok && string(a.hash) == sess.hash {
				return user{Name: sess.user, Role: a.role, via: "session", sid: c.Value}, nil
			}
		}
	}
	return user{}, errNoCredentials
}

var errNoCredentials = errors.New("authentication required")

// newSession opens a session for name, whose password hash is now hash,
// and returns its id.
func (s *Server) newSession(name, hash string) string {
	var b [32]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= maxSessions {
		for k, v := range s.sessions {
			if now.After(v.expires) {
				delete(s.sessions, k)
			}
		}
		if len(s.sessions) >= maxSessions { // drop the oldest
			var oldest string
			for k, v := range s.sessions {
				if oldest == "" || v.expires.Before(s.sessions[oldest].expires) {
					oldest = k
				}
			}
			delete(s.sessions, oldest)
		}
	}
	s.sessions[id] = session{user: name, hash: hash, expires: now.Add(sessionMaxAge)}
	return id
}

// csrfToken is the token a form of u's must carry: bound to the session
// (or, for Basic and proxy users, to the name), unguessable without the
// server's key.
func (s *Server) csrfToken(u user) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(u.via + "\x00" + u.sid + "\x00" + u.Name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// crossSite reports a request a browser made for another site's page: its
// Origin is not this console, or Fetch Metadata says so. Scripts send
// neither header.
func crossSite(r *http.Request) bool {
	// Fetch Metadata, where the browser sends it, says it exactly.
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin" && site != "none"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		// Behind a TLS-terminating proxy the scheme is the proxy's: the
		// host must match either way. "null" (an opaque origin) never
		// matches.
		return origin != "http://"+r.Host && origin != "https://"+r.Host
	}
	return false
}

// checkChange guards a state change: no cross-site request, and a valid
// CSRF token unless it is an API call with HTTP Basic (no cookie and no
// proxy session is involved: a page elsewhere cannot make the browser
// send it with the right credentials, and Origin is checked besides).
func (s *Server) checkChange(r *http.Request, u user, api bool) bool {
	if crossSite(r) {
		return false
	}
	if api && u.via == "basic" {
		return true
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	return hmac.Equal([]byte(tok), []byte(s.csrfToken(u)))
}

func (s *Server) staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

func operator(u user) string { return "web:" + u.Name }

// isAPI: the JSON API answers in JSON, errors too.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
