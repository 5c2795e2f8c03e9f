package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"outguard/config"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
	"outguard/web"
)

// webEnv is a console on the quarantine of startQuarantine (held through
// the real Postfix, released to its sink) and a limits store, with a user
// of each role.
type webEnv struct {
	*qenv
	cfg     *config.Config
	cfgFile string
	srv     *httptest.Server
	limits  limits.Store
}

const webPass = "a long enough password"

var webRoles = []string{"viewer", "reviewer", "admin"}

func startWeb(t *testing.T, extra string) *webEnv {
	e := &webEnv{qenv: startQuarantine(t)}
	state := t.TempDir()
	users := filepath.Join(t.TempDir(), "web-users")
	e.cfgFile = filepath.Join(t.TempDir(), "milterd.yaml")
	yaml := fmt.Sprintf("state_dir: %s\nquarantine:\n  dir: %s\n  release_address: %s\nlimits: {}\nweb:\n  users_file: %s\n  url: https://outguard.isp.test/\n%s", state, e.dir, e.release.Addr(), users, extra)
	os.WriteFile(e.cfgFile, []byte(yaml), 0o644)
	for _, role := range webRoles {
		r, _ := web.ParseRole(role)
		if err := web.AddUser(users, role, r, webPass); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if e.cfg, err = config.Load(e.cfgFile); err != nil {
		t.Fatal(err)
	}
	h, closeStores, err := newConsole(context.Background(), e.cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStores)
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	if e.limits, err = setup.OpenLimitsStore(context.Background(), e.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.limits.Close() })
	return e
}

// call makes an API call as role ("" for none) and returns the status and
// the body.
func (e *webEnv) call(t *testing.T, role, method, path string, form url.Values, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if role != "" {
		req.SetBasicAuth(role, webPass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if role == "" && resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("%s %s: 401 without a Basic challenge", method, path)
	}
	return resp.StatusCode, string(body)
}

func (e *webEnv) state(t *testing.T, id string) string {
	rec, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.State
}

// Every API call with each role and without credentials: reads need a
// user, releases, deletes and resolves a reviewer, account actions an
// admin; what is refused changes nothing and delivers nothing.
func TestWebAPIRoles(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "")
	recs := e.hold(t, "r1", "r2", "r3", "r4", "r5", "r6") // newest first
	ctx := context.Background()
	now := time.Now()
	e.limits.Suspend(ctx, limits.Suspension{Key: "mallory", Since: now, Reason: "phish", By: "milterd"}, now)

	// Reads.
	for _, path := range []string{"/api/quarantine", "/api/quarantine/" + recs[0].ID, "/api/accounts", "/api/accounts/mallory", "/api/audit"} {
		if code, _ := e.call(t, "", "GET", path, nil); code != 401 {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
		for _, role := range webRoles {
			if code, body := e.call(t, role, "GET", path, nil); code != 200 {
				t.Errorf("GET %s as %s: %d %s", path, role, code, body)
			}
		}
	}
	_, body := e.call(t, "viewer", "GET", "/api/quarantine", nil)
	var list struct {
		Entries []quarantine.Record `json:"entries"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Entries) != 6 || list.Entries[0].ID != recs[0].ID {
		t.Errorf("list: %v %s", err, body)
	}
	_, body = e.call(t, "viewer", "GET", "/api/quarantine?state=held&account=alice&rule=test", nil)
	if json.Unmarshal([]byte(body), &list); len(list.Entries) != 0 { // the test check's finding has no name
		t.Errorf("rule filter: %s", body)
	}
	_, body = e.call(t, "viewer", "GET", "/api/quarantine?state=released", nil)
	if json.Unmarshal([]byte(body), &list); len(list.Entries) != 0 {
		t.Errorf("state filter: %s", body)
	}
	if code, _ := e.call(t, "viewer", "GET", "/api/quarantine?since=yesterday", nil); code != 400 {
		t.Errorf("bad since: %d", code)
	}

	// Release: 401 without credentials, 403 for a viewer; nothing
	// delivered, still held. A reviewer's and an admin's are delivered.
	for _, role := range []string{"", "viewer"} {
		code, body := e.call(t, role, "POST", "/api/quarantine/"+recs[0].ID+"/release", nil)
		if want := map[string]int{"": 401, "viewer": 403}[role]; code != want {
			t.Errorf("release as %q: %d %s, want %d", role, code, body, want)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.stack.Sink.Messages()); n != 0 || e.state(t, recs[0].ID) != quarantine.Held {
		t.Fatalf("a refused release delivered %d messages, state %s", n, e.state(t, recs[0].ID))
	}
	for i, role := range []string{"reviewer", "admin"} {
		code, body := e.call(t, role, "POST", "/api/quarantine/"+recs[i].ID+"/release", nil)
		if code != 200 || !strings.Contains(body, `"outcome":"released: 250`) {
			t.Errorf("release as %s: %d %s", role, code, body)
		}
		if e.state(t, recs[i].ID) != quarantine.Released {
			t.Errorf("released as %s: state %s", role, e.state(t, recs[i].ID))
		}
	}
	e.stack.Sink.Wait(t, 2, 10*time.Second)
	if code, body := e.call(t, "reviewer", "POST", "/api/quarantine/"+recs[0].ID+"/release", nil); code != 409 || !strings.Contains(body, "not held") {
		t.Errorf("second release: %d %s", code, body)
	}
	if code, _ := e.call(t, "reviewer", "POST", "/api/quarantine/nosuchid/release", nil); code != 404 {
		t.Errorf("release of an unknown id: %d", code)
	}

	// Delete.
	for _, role := range []string{"", "viewer"} {
		if code, _ := e.call(t, role, "POST", "/api/quarantine/"+recs[2].ID+"/delete", nil); code != map[string]int{"": 401, "viewer": 403}[role] {
			t.Errorf("delete as %q: %d", role, code)
		}
	}
	if e.state(t, recs[2].ID) != quarantine.Held {
		t.Errorf("refused delete: state %s", e.state(t, recs[2].ID))
	}
	for i, role := range []string{"reviewer", "admin"} {
		if code, body := e.call(t, role, "POST", "/api/quarantine/"+recs[2+i].ID+"/delete", nil); code != 200 || e.state(t, recs[2+i].ID) != quarantine.Deleted {
			t.Errorf("delete as %s: %d %s", role, code, body)
		}
	}

	// Resolve: two entries left as a release that did not finish.
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	claim := fmt.Sprintf(`{"operator":"bob","started":%q,"lease":%q}`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(-time.Minute).Format(time.RFC3339))
	for _, r := range recs[4:] {
		if _, err := db.Exec(`UPDATE entries SET state = 'releasing', claim = ? WHERE id = ?`, claim, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	for _, role := range []string{"", "viewer"} {
		if code, _ := e.call(t, role, "POST", "/api/quarantine/"+recs[4].ID+"/resolve", url.Values{"state": {"held"}}); code != map[string]int{"": 401, "viewer": 403}[role] {
			t.Errorf("resolve as %q: %d", role, code)
		}
	}
	if code, _ := e.call(t, "reviewer", "POST", "/api/quarantine/"+recs[4].ID+"/resolve", url.Values{"state": {"bogus"}}); code != 400 {
		t.Errorf("resolve to a bogus state: %d", code)
	}
	for i, role := range []string{"reviewer", "admin"} {
		if code, body := e.call(t, role, "POST", "/api/quarantine/"+recs[4+i].ID+"/resolve", url.Values{"state": {"held"}}); code != 200 || e.state(t, recs[4+i].ID) != quarantine.Held {
			t.Errorf("resolve as %s: %d %s", role, code, body)
		}
	}

	// Accounts: admin only.
	suspended := func() bool {
		_, s, _ := e.limits.Usage(ctx, "mallory", time.Now())
		return s.Active(time.Now())
	}
	for _, action := range []string{"unsuspend", "reset", "suspend"} {
		for _, role := range []string{"", "viewer", "reviewer"} {
			code, _ := e.call(t, role, "POST", "/api/accounts/mallory/"+action, url.Values{"reason": {"test"}})
			if want := map[string]int{"": 401, "viewer": 403, "reviewer": 403}[role]; code != want {
				t.Errorf("%s as %q: %d, want %d", action, role, code, want)
			}
		}
	}
	if !suspended() {
		t.Fatal("a refused unsuspend unsuspended")
	}
	if code, body := e.call(t, "admin", "POST", "/api/accounts/mallory/unsuspend", nil); code != 200 || suspended() {
		t.Errorf("unsuspend: %d %s", code, body)
	}
	if code, _ := e.call(t, "admin", "POST", "/api/accounts/mallory/unsuspend", nil); code != 409 {
		t.Errorf("second unsuspend: %d", code)
	}
	if code, _ := e.call(t, "admin", "POST", "/api/accounts/mallory/suspend", nil); code != 400 || suspended() {
		t.Errorf("suspend without a reason: %d", code)
	}
	if code, body := e.call(t, "admin", "POST", "/api/accounts/mallory/suspend", url.Values{"reason": {"phishing reported"}}); code != 200 || !suspended() {
		t.Errorf("suspend: %d %s", code, body)
	}
	if code, body := e.call(t, "admin", "POST", "/api/accounts/mallory/reset", nil); code != 200 {
		t.Errorf("reset: %d %s", code, body)
	}

	// Every action in the audit trail, with the console's user.
	_, body = e.call(t, "viewer", "GET", "/api/audit", nil)
	for _, want := range []string{`"operator":"web:reviewer","action":"release","id":"` + recs[0].ID,
		`"operator":"web:admin","action":"release","id":"` + recs[1].ID,
		`"operator":"web:reviewer","action":"delete"`, `"operator":"web:admin","action":"delete"`,
		`"operator":"web:reviewer","action":"resolve"`, `"operator":"web:admin","action":"account unsuspend","id":"mallory"`,
		`"operator":"web:admin","action":"account suspend","id":"mallory","outcome":"suspended: phishing reported`,
		`"operator":"web:admin","action":"account reset"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit trail lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "web:viewer") {
		t.Errorf("a refused action is in the audit trail as done:\n%s", body)
	}
}

// Five reviewers release the same entry at once: one delivers it, the
// others are told it is not held; the sink gets one copy.
func TestWebConcurrentRelease(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "")
	rec := e.hold(t, "once")[0]
	codes := make(chan int, 5)
	for range 5 {
		go func() { // not e.call: no t.Fatal off the test's goroutine
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/quarantine/"+rec.ID+"/release", nil)
			req.SetBasicAuth("reviewer", webPass)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	got := map[int]int{}
	for range 5 {
		got[<-codes]++
	}
	if got[200] != 1 || got[409] != 4 {
		t.Errorf("answers %v, want one 200 and four 409", got)
	}
	e.stack.Sink.Wait(t, 1, 10*time.Second)
	time.Sleep(time.Second)
	if n := len(e.stack.Sink.Messages()); n != 1 {
		t.Errorf("%d copies delivered", n)
	}
}

// Authentication: wrong passwords, cookie sessions
// and their CSRF tokens, cross-site requests, and the proxy header only
// from trusted proxies.
func TestWebAuthentication(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "  trusted_proxy_header: X-Remote-User\n  trusted_proxies: [192.0.2.1]\n")
	recs := e.hold(t, "a", "b", "c")

	// The proxy header from an address not in trusted_proxies is ignored.
	if code, _ := e.call(t, "", "GET", "/api/quarantine", nil, "X-Remote-User", "admin"); code != 401 {
		t.Errorf("proxy header from an untrusted address: %d, want 401", code)
	}
	// Basic with a wrong password; then a role the file does not have.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/quarantine", nil)
	req.SetBasicAuth("admin", "wrong")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}

	// A cross-site request with valid Basic credentials (a browser that
	// cached them) changes nothing.
	if code, _ := e.call(t, "reviewer", "POST", "/api/quarantine/"+recs[0].ID+"/delete", nil, "Origin", "http://evil.test"); code != 403 || e.state(t, recs[0].ID) != quarantine.Held {
		t.Errorf("cross-site delete with Basic: %d", code)
	}
	if code, _ := e.call(t, "reviewer", "POST", "/api/quarantine/"+recs[0].ID+"/delete", nil, "Sec-Fetch-Site", "same-site"); code != 403 || e.state(t, recs[0].ID) != quarantine.Held {
		t.Errorf("same-site (not same-origin) delete with Basic: %d", code)
	}

	// The login form: a session cookie, HttpOnly and SameSite=Strict.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"user": {"reviewer"}, "password": {webPass}, "next": {"//evil.test/x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || strings.Contains(cookie, "Secure") {
		t.Errorf("login: %d to %q, cookie %q", resp.StatusCode, resp.Header.Get("Location"), cookie)
	}
	get := func(path string) string {
		resp, err := c.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s with the session: %d", path, resp.StatusCode)
		}
		return string(b)
	}
	page := get("/quarantine/" + recs[0].ID)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the entry page:\n%s", page)
	}
	post := func(path string, form url.Values, header ...string) int {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// With the cookie but without the token, or with another's: refused,
	// on the API as on the pages.
	for _, path := range []string{"/api/quarantine/" + recs[0].ID + "/delete", "/quarantine/" + recs[0].ID + "/delete"} {
		if code := post(path, nil); code != 403 {
			t.Errorf("POST %s with the cookie and no token: %d", path, code)
		}
		if code := post(path, url.Values{"csrf": {m[1] + "x"}}); code != 403 {
			t.Errorf("POST %s with a wrong token: %d", path, code)
		}
	}
	if e.state(t, recs[0].ID) != quarantine.Held {
		t.Fatal("deleted without a valid CSRF token")
	}
	if code := post("/quarantine/"+recs[0].ID+"/delete", url.Values{"csrf": {m[1]}}); code != 200 || e.state(t, recs[0].ID) != quarantine.Deleted {
		t.Errorf("delete with the token: %d", code)
	}
	if code := post("/api/quarantine/"+recs[1].ID+"/delete", nil, "X-CSRF-Token", m[1]); code != 200 || e.state(t, recs[1].ID) != quarantine.Deleted {
		t.Errorf("API delete with the token in X-CSRF-Token: %d", code)
	}
	// Signed out, the cookie opens nothing.
	if code := post("/logout", url.Values{"csrf": {m[1]}}); code != 303 {
		t.Errorf("logout: %d", code)
	}
	if resp, _ := c.Get(e.srv.URL + "/api/quarantine"); resp.StatusCode != 401 {
		t.Errorf("after logout: %d", resp.StatusCode)
	}
}

// The proxy header from a trusted proxy names the user; the role is the
// users file's, and a name not in it gets nothing.
func TestWebTrustedProxy(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "  trusted_proxy_header: X-Remote-User\n  trusted_proxies: [127.0.0.1]\n")
	if code, _ := e.call(t, "", "GET", "/api/quarantine", nil, "X-Remote-User", "viewer"); code != 200 {
		t.Errorf("viewer through the proxy: %d", code)
	}
	if code, _ := e.call(t, "", "POST", "/api/accounts/x/reset", nil, "X-Remote-User", "viewer"); code != 403 {
		t.Errorf("viewer's reset through the proxy: %d", code)
	}
	if code, _ := e.call(t, "", "GET", "/api/quarantine", nil, "X-Remote-User", "stranger"); code != 401 {
		t.Errorf("unknown user through the proxy: %d", code)
	}
	// A proxy user's state change needs the CSRF token: the proxy's own
	// login is typically a cookie, which a cross-site form would carry.
	if code, _ := e.call(t, "", "POST", "/api/accounts/x/reset", nil, "X-Remote-User", "admin"); code != 403 {
		t.Errorf("admin's reset through the proxy without a token: %d", code)
	}
}

// adduser: a bcrypt hash per line, a password read from stdin, a short one
// refused, a second call replacing the user's line.
func TestWebAddUser(t *testing.T) { // not parallel: it sets stdin
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+dir+"\nweb: {users_file: "+users+"}\n"), 0o644)
	run := func(pw string, args ...string) int {
		stdin = strings.NewReader(pw)
		_, code := ctl(t, cfg, append([]string{"web", "adduser"}, args...)...)
		return code
	}
	if run("short\n", "ann", "admin") != 1 || run(webPass+"\n", "ann", "root") != 1 || run(webPass+"\n", "a:b", "admin") != 1 {
		t.Error("a short password, an unknown role or a name with a colon was taken")
	}
	if run(webPass+"\n", "ann", "viewer") != 0 || run(webPass+"\n", "bob", "reviewer") != 0 || run(webPass, "ann", "admin") != 0 {
		t.Fatal("adduser failed")
	}
	data, _ := os.ReadFile(users)
	if !regexp.MustCompile(`^bob:\$2a\$10\$[./A-Za-z0-9]{53}:reviewer\nann:\$2a\$10\$[./A-Za-z0-9]{53}:admin\n$`).Match(data) {
		t.Errorf("users file:\n%s", data)
	}
	if fi, _ := os.Stat(users); fi.Mode().Perm() != 0o640 {
		t.Errorf("users file mode %v", fi.Mode().Perm())
	}
}

// A users file adduser creates as root takes the config's group (as
// installed, root:outguard): the console, running as that group under
// its unit, reads it. Before: root:root 0640, and every login of the
// installed console failed with "permission denied".
func TestWebAddUserGivesTheConfigsGroup(t *testing.T) { // not parallel: it sets stdin
	if os.Geteuid() != 0 {
		t.Skip("needs root: chown to another group")
	}
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("state_dir: "+dir+"\nweb: {users_file: "+users+"}\n"), 0o640)
	const group = 65534 // nogroup: any group but root's
	if err := os.Chown(cfg, 0, group); err != nil {
		t.Fatal(err)
	}
	stdin = strings.NewReader(webPass + "\n")
	if out, code := ctl(t, cfg, "web", "adduser", "ann", "admin"); code != 0 {
		t.Fatalf("adduser: %d %s", code, out)
	}
	fi, err := os.Stat(users)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != group || fi.Mode().Perm() != 0o640 {
		t.Errorf("users file %d:%d %v; want 0:%d 0640", st.Uid, st.Gid, fi.Mode().Perm(), group)
	}
}

// The digest links each entry to its page when web.url is set.
func TestDigestLinks(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "")
	recs := e.hold(t, "one")
	out, code := ctl(t, e.cfgFile, "quarantine", "digest")
	if want := "https://outguard.isp.test/quarantine/" + recs[0].ID; code != 0 || !strings.Contains(out, want) {
		t.Errorf("digest (%d) lacks %s:\n%s", code, want, out)
	}
	out, _ = ctl(t, e.cfgFile, "quarantine", "digest", "--json")
	if !strings.Contains(out, `"url":"https://outguard.isp.test/quarantine/`+recs[0].ID+`"`) {
		t.Errorf("JSON digest:\n%s", out)
	}
	out, _ = ctl(t, e.qenv.cfg, "quarantine", "digest") // no web section
	if strings.Contains(out, "https://") {
		t.Errorf("a link without web.url:\n%s", out)
	}
}

// With web.tls the console is HTTPS only, its session cookie is Secure and
// it asks browsers to stay on HTTPS.
func TestWebTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	users := filepath.Join(dir, "users")
	if err := web.AddUser(users, "rev", web.Reviewer, webPass); err != nil {
		t.Fatal(err)
	}
	// Port 0: the console binds a port of its own and logs it.
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf("state_dir: %s\nquarantine: {dir: %s/q}\nweb: {listen: \"127.0.0.1:0\", users_file: %s, tls: {cert: %s/cert.pem, key: %s/key.pem}}\n", dir, dir, users, dir, dir)))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "q"), 0o700)
	ctx, cancel := context.WithCancel(context.Background())
	done, exited := make(chan error, 1), make(chan struct{})
	log := &harness.LogBuffer{}
	go func() { done <- serveWeb(ctx, cfg, log); close(exited) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveWeb: %v", err)
		}
	}()
	addr := harness.LoggedAddr(t, log.String, exited, "web console listening")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	for i := 0; ; i++ {
		if resp, err = c.PostForm("https://"+addr+"/login", url.Values{"user": {"rev"}, "password": {webPass}}); err == nil {
			break
		}
		if i > 200 {
			t.Fatalf("no HTTPS console: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	resp.Body.Close()
	if cookie := resp.Header.Get("Set-Cookie"); resp.StatusCode != 303 || !strings.Contains(cookie, "; Secure") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Errorf("login over TLS: %d, cookie %q", resp.StatusCode, cookie)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no HSTS over TLS")
	}
	if resp, err := http.Get("http://" + addr + "/login"); err == nil && resp.StatusCode == 200 {
		t.Errorf("the TLS console answers plain HTTP")
	}
}

// The console spares a campaign as milterctl does (the same action): an
// admin only; the campaign's page then shows the spare and the lifted
// senders are no longer suspended; unspare ends it, once.
func TestWebCampaignSpare(t *testing.T) {
	t.Parallel()
	e := startWeb(t, "campaign: {shared_domains: [isp.test]}\n")
	ctx := context.Background()
	now := time.Now()
	id := campaignOf(t, e.limits.(limits.CampaignStore), "web", now, "signer0", "signer1", "signer2", "signer3", "signer4").ID
	suspendAll(t, e.limits, id, now, "signer0", "signer1", "signer2", "signer3", "signer4")
	for role, want := range map[string]bool{"viewer": false, "admin": true} {
		if code, body := e.call(t, role, "GET", "/campaigns/"+id, nil); code != 200 || strings.Contains(body, `id="spare"`) != want {
			t.Errorf("the campaign's page as %s: %d, a spare button: %v, want %v", role, code, !want, want)
		}
	}
	if code, _ := e.call(t, "admin", "POST", "/api/campaigns/t1nosuch/spare", url.Values{}); code != 404 {
		t.Errorf("spare of an unknown campaign: %d, want 404", code)
	}
	for _, role := range []string{"viewer", "reviewer"} {
		if code, _ := e.call(t, role, "POST", "/api/campaigns/"+id+"/spare", url.Values{}); code != 403 {
			t.Errorf("spare as %s: %d, want 403", role, code)
		}
	}
	if sus, _ := e.limits.Suspensions(ctx); len(sus) != 5 {
		t.Fatalf("%d suspended after refused spares, want 5", len(sus))
	}
	code, body := e.call(t, "admin", "POST", "/api/campaigns/"+id+"/spare", url.Values{})
	if code != 200 || strings.Count(body, " unsuspended (spared): ") != 5 || !strings.Contains(body, id+" spared for 5 of its 5 accounts") {
		t.Fatalf("spare as admin: %d %s", code, body)
	}
	if sus, _ := e.limits.Suspensions(ctx); len(sus) != 0 {
		t.Errorf("%d suspended after the spare, want none", len(sus))
	}
	if code, body = e.call(t, "viewer", "GET", "/api/campaigns/"+id, nil); code != 200 || !strings.Contains(body, `"spared":{"at":`) || !strings.Contains(body, `"by":"web:admin"`) {
		t.Errorf("campaign after the spare: %d %s", code, body)
	}
	if code, body = e.call(t, "admin", "POST", "/api/campaigns/"+id+"/unspare", url.Values{}); code != 200 || !strings.Contains(body, "no longer spared") {
		t.Errorf("unspare: %d %s", code, body)
	}
	if code, body = e.call(t, "admin", "POST", "/api/campaigns/"+id+"/unspare", url.Values{}); code == 200 || !strings.Contains(body, "is not spared") {
		t.Errorf("second unspare: %d %s", code, body)
	}
}
