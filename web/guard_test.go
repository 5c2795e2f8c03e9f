package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/limits"
	"outguard/quarantine"
)

// recorded is Actions that records what it was asked to do: the guards
// are under test here, the actions themselves in cmd/milterctl and e2e.
type recorded struct {
	mu    sync.Mutex
	calls []string
}

func (a *recorded) add(s ...string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, strings.Join(s, " "))
	return "done", nil
}

func (a *recorded) n() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.calls) }

func (a *recorded) Release(_ context.Context, id, op string) (string, error) {
	return a.add("release", id, op)
}
func (a *recorded) Delete(_ context.Context, id, op string) (string, error) {
	return a.add("delete", id, op)
}
func (a *recorded) Resolve(_ context.Context, id, state, op string) (string, error) {
	return a.add("resolve", id, state, op)
}
func (a *recorded) Suspend(_ context.Context, k, reason, op string) (string, error) {
	return a.add("suspend", k, reason, op)
}
func (a *recorded) Unsuspend(_ context.Context, k, queued, op string) (string, error) {
	return a.add("unsuspend", k, queued, op)
}
func (a *recorded) Reset(_ context.Context, k, op string) (string, error) {
	return a.add("reset", k, op)
}
func (a *recorded) SpareCampaign(_ context.Context, ids []string, queued, op string) ([]string, error) {
	out, err := a.add("spare", strings.Join(ids, " "), queued, op)
	return []string{out}, err
}
func (a *recorded) UnspareCampaign(_ context.Context, id, op string) (string, error) {
	return a.add("unspare", id, op)
}

const pass = "a long enough password"

// newFull is a console with every section (quarantine, accounts,
// relayprobe) and a user of each role, named after it.
func newFull(t *testing.T) (*Server, *recorded) {
	t.Helper()
	dir := t.TempDir()
	q, err := quarantine.Open(filepath.Join(dir, "q"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	st := testLimits(t, dir)
	users := filepath.Join(dir, "users")
	for _, r := range []Role{Viewer, Reviewer, Admin} {
		if err := AddUser(users, r.String(), r, pass); err != nil {
			t.Fatal(err)
		}
	}
	act := &recorded{}
	s, err := New(Options{Quarantine: q, Accounts: st, Policy: &limits.Policy{}, Actions: act, UsersFile: users, RelayprobeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s, act
}

func serve(s *Server, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// signIn signs name in with the form and returns the session cookie.
func signIn(t *testing.T, s *Server, name string) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"user": {name}, "password": {pass}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := serve(s, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName && c.Value != "" {
			return c
		}
	}
	t.Fatalf("sign-in of %s: %d, no session cookie", name, w.Code)
	return nil
}

// posts are the console's POST routes with their wildcards filled in,
// taken from the routes it serves (not a list kept by hand).
func posts(t *testing.T, s *Server) []string {
	var out []string
	wild := regexp.MustCompile(`\{[^}]+\}`)
	for _, p := range s.patterns {
		if path, ok := strings.CutPrefix(p, "POST "); ok && path != "/login" {
			out = append(out, wild.ReplaceAllString(path, "x"))
		}
	}
	if len(out) < 13 { // logout, 3 quarantine and 3 account actions, twice (pages and API)
		t.Fatalf("only %d POST routes found: %q", len(out), s.patterns)
	}
	return out
}

// Every state change the console serves, found from its routes: from an
// admin's cookie session without the CSRF token, with another session's
// token, or from another site with the right one, it is refused with 403
// and nothing is done; with the right token it goes through. With Basic,
// a page's form needs the token too; only an API call does not, and not
// from another site.
func TestEveryChangeNeedsCSRF(t *testing.T) {
	s, act := newFull(t)
	cookie, other := signIn(t, s, "admin"), signIn(t, s, "admin")
	token := func(c *http.Cookie) string {
		return s.csrfToken(user{Name: "admin", via: "session", sid: c.Value})
	}
	post := func(path string, form url.Values, c *http.Cookie, basic bool, header ...string) int {
		r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c != nil {
			r.AddCookie(c)
		}
		if basic {
			r.SetBasicAuth("admin", pass)
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return serve(s, r).Code
	}
	routes := posts(t, s)
	for _, path := range routes {
		fields := url.Values{"reason": {"r"}, "state": {"held"}}
		if code := post(path, fields, cookie, false); code != 403 {
			t.Errorf("POST %s from a session without the token: %d", path, code)
		}
		fields.Set("csrf", token(other))
		if code := post(path, fields, cookie, false); code != 403 {
			t.Errorf("POST %s with another session's token: %d", path, code)
		}
		fields.Set("csrf", token(cookie))
		for _, h := range [][]string{{"Origin", "http://evil.test"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", "null"}} {
			if code := post(path, fields, cookie, false, h...); code != 403 {
				t.Errorf("POST %s from another site (%s) with the token: %d", path, h, code)
			}
			if code := post(path, url.Values{"reason": {"r"}, "state": {"held"}}, nil, true, h...); code != 403 {
				t.Errorf("POST %s with Basic from another site (%s): %d", path, h, code)
			}
		}
		if !strings.HasPrefix(path, "/api/") {
			if code := post(path, url.Values{"reason": {"r"}, "state": {"held"}}, nil, true); code != 403 {
				t.Errorf("POST %s (a page's form) with Basic and no token: %d", path, code)
			}
		}
	}
	if n := act.n(); n != 0 {
		t.Fatalf("%d actions done without a valid token: %q", n, act.calls)
	}
	for _, path := range routes {
		if path == "/logout" {
			continue
		}
		if code := post(path, url.Values{"reason": {"r"}, "state": {"held"}, "csrf": {token(cookie)}}, cookie, false); code != 200 {
			t.Errorf("POST %s with the token: %d", path, code)
		}
	}
	if n := act.n(); n != len(routes)-1 {
		t.Errorf("%d actions done with the token, want %d", n, len(routes)-1)
	}
}

// Signing out ends the session on the server: the cookie, replayed as it
// was (a copy an attacker kept), opens nothing, on pages or the API, and
// cannot post.
func TestSessionReplayAfterLogout(t *testing.T) {
	s, act := newFull(t)
	c := signIn(t, s, "admin")
	tok := s.csrfToken(user{Name: "admin", via: "session", sid: c.Value})
	get := func() int {
		r := httptest.NewRequest("GET", "/api/accounts", nil)
		r.AddCookie(c)
		return serve(s, r).Code
	}
	if code := get(); code != 200 {
		t.Fatalf("the session: %d", code)
	}
	r := httptest.NewRequest("POST", "/logout", strings.NewReader("csrf="+tok))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(c)
	if w := serve(s, r); w.Code != 303 || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", w.Code, w.Header())
	}
	if code := get(); code != 401 {
		t.Errorf("the cookie replayed after logout: %d", code)
	}
	r = httptest.NewRequest("POST", "/api/accounts/bob/reset", strings.NewReader("csrf="+tok))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(c)
	if code := serve(s, r).Code; code != 401 || act.n() != 0 {
		t.Errorf("a post with the replayed cookie and its token: %d, %d actions", code, act.n())
	}
}

// IDs and accounts in paths are looked up, never used as file names or
// put into headers: traversal and CRLF find nothing and do nothing; an
// account that no login is (a control character, too long) is refused
// before any store or action sees it.
func TestPathsAreNotFiles(t *testing.T) {
	s, act := newFull(t)
	call := func(method, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.SetBasicAuth("admin", pass)
		return serve(s, r)
	}
	for _, id := range []string{"..%2F..%2F..%2Fetc%2Fpasswd", "..%2Fq%2Findex.db", "%2Fetc%2Fpasswd", "x%0d%0aSet-Cookie:%20a=b", "%00"} {
		for _, path := range []string{"/api/quarantine/" + id, "/quarantine/" + id} {
			if w := call("GET", path); w.Code != 404 || w.Header().Get("Set-Cookie") != "" || strings.Contains(w.Body.String(), "root:") {
				t.Errorf("GET %s: %d %v", path, w.Code, w.Header())
			}
		}
	}
	for _, acct := range []string{"bob%0d%0aX-Injected:%201", "bob%1b%5B2J", "%E2%80%AEbob", "%ff", strings.Repeat("a", maxAccount+1)} {
		for _, path := range []string{"/api/accounts/" + acct, "/api/accounts/" + acct + "/suspend?reason=x", "/api/accounts/" + acct + "/unsuspend"} {
			method := "GET"
			if strings.Contains(path, "suspend") {
				method = "POST"
			}
			if w := call(method, path); w.Code != 400 || w.Header().Get("X-Injected") != "" {
				t.Errorf("%s %s: %d", method, path, w.Code)
			}
		}
	}
	if act.n() != 0 {
		t.Errorf("actions done: %q", act.calls)
	}
	if w := call("GET", "/api/accounts/..%2F..%2Fbob"); w.Code != 200 || !strings.Contains(w.Body.String(), `"account":"../../bob"`) {
		t.Errorf("an odd but printable account is just a name: %d %s", w.Code, w.Body.String())
	}
}

// A state change's body is bounded (maxForm): a session's form past it
// is not read (so its token is not found) and an API call's fields are
// not either; nothing is done either way.
func TestChangeBodyBound(t *testing.T) {
	s, act := newFull(t)
	c := signIn(t, s, "admin")
	tok := s.csrfToken(user{Name: "admin", via: "session", sid: c.Value})
	huge := strings.Repeat("x", 8<<20)
	r := httptest.NewRequest("POST", "/accounts/bob/suspend", strings.NewReader("pad="+huge+"&reason=r&csrf="+tok))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(c)
	if code := serve(s, r).Code; code != 403 {
		t.Errorf("8 MiB form from a session: %d", code)
	}
	r = httptest.NewRequest("POST", "/api/accounts/bob/suspend", strings.NewReader("pad="+huge+"&reason=r"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("admin", pass)
	if code := serve(s, r).Code; code != 400 {
		t.Errorf("8 MiB API call: %d", code)
	}
	if act.n() != 0 {
		t.Errorf("actions done: %q", act.calls)
	}
}

// A login flood from every address of an IPv6 /64 counts as one client:
// after LoginBurst failures the whole /64 waits; another /64 and IPv4
// clients do not.
func TestLoginFloodFromOneIPv6Network(t *testing.T) {
	s, _ := newFull(t)
	s.o.LoginEvery = time.Hour
	login := func(addr, password string) int {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"user": {"admin"}, "password": {password}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		return serve(s, r).Code
	}
	for i := range loginBurst {
		if code := login(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1), "guess"); code != 401 {
			t.Errorf("guess %d: %d", i, code)
		}
	}
	for _, a := range []string{"[2001:db8:1:2:ffff::1]:1", "[2001:db8:1:2::dead:beef]:2"} {
		if code := login(a, pass); code != 429 {
			t.Errorf("from %s in the flooding /64: %d, want 429", a, code)
		}
	}
	for _, a := range []string{"[2001:db8:1:3::1]:1", "192.0.2.1:1", "[::ffff:192.0.2.2]:1"} {
		if code := login(a, pass); code != 303 {
			t.Errorf("from %s: %d, want 303", a, code)
		}
	}
	if len(s.limiters) > 4 {
		t.Errorf("%d buckets for the flood", len(s.limiters))
	}
}

// The login form refuses a cross-site post: another site cannot sign a
// browser in (to its own account, say, to see what it reviews).
func TestCrossSiteLogin(t *testing.T) {
	s, _ := newFull(t)
	for _, h := range [][]string{{"Origin", "http://evil.test"}, {"Sec-Fetch-Site", "cross-site"}} {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"user": {"admin"}, "password": {pass}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set(h[0], h[1])
		if w := serve(s, r); w.Code != 403 || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("cross-site login (%s): %d %v", h, w.Code, w.Header())
		}
	}
}

// Every page and API read the console serves, found from its routes,
// answers 401 with a Basic challenge without credentials (a page with the
// login form too), and its content to HTTP Basic.
func TestEveryPageNeedsAUser(t *testing.T) {
	s, _ := newFull(t)
	wild := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for _, p := range s.patterns {
		path, ok := strings.CutPrefix(p, "GET ")
		if !ok || path == "/login" || path == "/{$}" || path == "/static/" {
			continue
		}
		path = wild.ReplaceAllString(path, "x")
		n++
		w := serve(s, httptest.NewRequest("GET", path, nil))
		if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without credentials: %d %v", path, w.Code, w.Header())
		}
		if !strings.HasPrefix(path, "/api/") && !strings.Contains(w.Body.String(), `action="/login"`) {
			t.Errorf("GET %s without credentials: no login form", path)
		}
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth("viewer", pass)
		if w := serve(s, r); w.Code == 401 || w.Code == 403 || w.Code >= 500 {
			t.Errorf("GET %s as a viewer with Basic: %d %s", path, w.Code, w.Body.String())
		}
	}
	if n < 11 {
		t.Errorf("only %d pages found: %q", n, s.patterns)
	}
}

// unsuspend's queued field: release or delete reach the action as such
// (and nothing else does), from an admin only.
func TestUnsuspendQueued(t *testing.T) {
	s, act := newFull(t)
	call := func(role, queued string) int {
		r := httptest.NewRequest("POST", "/api/accounts/bob/unsuspend", strings.NewReader(url.Values{"queued": {queued}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(role, pass)
		return serve(s, r).Code
	}
	for _, q := range []string{"bogus", "RELEASE", "release\n", "keep"} {
		if code := call("admin", q); code != 400 {
			t.Errorf("queued=%q: %d", q, code)
		}
	}
	for _, role := range []string{"viewer", "reviewer"} {
		if code := call(role, "release"); code != 403 {
			t.Errorf("release-queued as %s: %d", role, code)
		}
	}
	if act.n() != 0 {
		t.Fatalf("actions done: %q", act.calls)
	}
	for _, q := range []string{"release", "delete", ""} {
		if code := call("admin", q); code != 200 {
			t.Errorf("queued=%q: %d", q, code)
		}
	}
	if want := []string{"unsuspend bob release web:admin", "unsuspend bob delete web:admin", "unsuspend bob  web:admin"}; fmt.Sprint(act.calls) != fmt.Sprint(want) {
		t.Errorf("actions %q, want %q", act.calls, want)
	}
}

// A suspension's reason is one line of text: CRLF, escapes and a
// reason past maxReason are refused before the action.
func TestSuspendReason(t *testing.T) {
	s, act := newFull(t)
	call := func(reason string) int {
		r := httptest.NewRequest("POST", "/api/accounts/bob/suspend", strings.NewReader(url.Values{"reason": {reason}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("admin", pass)
		return serve(s, r).Code
	}
	for _, reason := range []string{"", "  ", "phished\r\nX-Injected: 1", "a\x1b[2Jb", "\u202eexe", strings.Repeat("r", maxReason+1)} {
		if code := call(reason); code != 400 {
			t.Errorf("reason %q: %d", reason, code)
		}
	}
	if act.n() != 0 {
		t.Fatalf("actions done: %q", act.calls)
	}
	if code := call(strings.Repeat("r", maxReason)); code != 200 || act.n() != 1 {
		t.Errorf("a reason of maxReason bytes: %d", code)
	}
}

// The audit trail page has the accounts' trail beside the quarantine's,
// also on a console without a quarantine, newest first and escaped.
func TestAuditPageAccounts(t *testing.T) {
	dir := t.TempDir()
	st := testLimits(t, dir)
	s, err := New(Options{Accounts: st, Policy: &limits.Policy{}, UsersFile: testUser(t, dir, "viewer", Viewer, pass)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, ev := range []limits.AuditEvent{
		{Account: "bob", Event: limits.AuditSuspended, By: "milterd", Detail: "<script>alert(1)</script>"},
		{Account: "bob", Event: limits.AuditQueueHeld, By: "milterd", Detail: "A1 B2"},
		{Account: "carl", Event: limits.AuditUnsuspended, By: "web:admin"},
	} {
		ev.Time, ev.Host = now.Add(time.Duration(i-3)*time.Minute), "mx1"
		if err := st.Audit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) string {
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth("viewer", pass)
		w := serve(s, r)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	body := get("/api/audit?id=bob")
	if i, j := strings.Index(body, `"event":"queue held"`), strings.Index(body, `"event":"suspended"`); i < 0 || j < i || strings.Contains(body, "carl") {
		t.Errorf("bob's trail, newest first:\n%s", body)
	}
	page := get("/audit")
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(page, "<script>") || !strings.Contains(page, `href="/accounts/carl"`) {
		t.Errorf("audit page:\n%s", page)
	}
	if !strings.Contains(get("/accounts"), `<a href="/audit">`) {
		t.Errorf("no audit trail in the navigation without a quarantine")
	}
}
