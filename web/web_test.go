package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"outguard/limits"
	"outguard/probe"
	"outguard/quarantine"
)

// newTest is a console on a local quarantine with one reviewer.
func newTest(t *testing.T) (*Server, *quarantine.Store) {
	t.Helper()
	dir := t.TempDir()
	q, err := quarantine.Open(filepath.Join(dir, "q"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	s, err := New(Options{Quarantine: q, UsersFile: testUser(t, dir, "rev", Reviewer, "a long enough password")})
	if err != nil {
		t.Fatal(err)
	}
	return s, q
}

// testUser adds name with role and password to the users file in dir and
// returns the file's path.
func testUser(t *testing.T, dir, name string, role Role, password string) string {
	t.Helper()
	users := filepath.Join(dir, "users")
	if err := AddUser(users, name, role, password); err != nil {
		t.Fatal(err)
	}
	return users
}

// testLimits is a SQLite limits store in dir, closed when the test ends.
func testLimits(t *testing.T, dir string) limits.Store {
	t.Helper()
	st, err := limits.OpenSQLite(filepath.Join(dir, "limits.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func get(t *testing.T, s *Server, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.SetBasicAuth("rev", "a long enough password")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// A list shows at most ListMax entries and says how many matched.
func TestListMax(t *testing.T) {
	s, q := newTest(t)
	putEntries(t, q, ListMax+1)
	w := get(t, s, "/api/quarantine")
	var d listData
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || w.Code != 200 {
		t.Fatalf("%d %v", w.Code, err)
	}
	if len(d.Entries) != ListMax || d.Total != ListMax+1 || !d.Truncated {
		t.Errorf("%d entries of %d, truncated %v", len(d.Entries), d.Total, d.Truncated)
	}
	if page := get(t, s, "/quarantine").Body.String(); !strings.Contains(page, "501 entries, the newest 500 shown") {
		t.Errorf("the page does not say the list is cut")
	}
}

// putEntries quarantines n small messages of user u, a millisecond apart.
func putEntries(t *testing.T, q *quarantine.Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := q.Put(context.Background(), quarantine.Record{Time: time.Now().Add(time.Duration(i) * time.Millisecond), User: "u", From: "f@x.test", Rcpts: []string{"r@x.test"}}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
	}
}

// The list reads a page of entries, not the whole quarantine: serving it
// allocates about as much with four times the entries (reading them all
// allocated 4.7 times as much). The ratio of the fewest bytes of five
// requests each, in the same run, is compared, with room for what other
// goroutines allocate meanwhile.
func TestListReadsAPage(t *testing.T) {
	s, q := newTest(t)
	allocated := func() uint64 {
		least := uint64(math.MaxUint64)
		for range 5 {
			var before, after runtime.MemStats
			runtime.GC() // what the puts left to do is not the list's
			runtime.ReadMemStats(&before)
			if w := get(t, s, "/api/quarantine"); w.Code != 200 {
				t.Fatalf("%d", w.Code)
			}
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		return least
	}
	putEntries(t, q, ListMax+1)
	page := allocated()
	putEntries(t, q, 3*ListMax)
	if whole := allocated(); float64(whole)/float64(page) > 2.5 {
		t.Errorf("listing %d entries allocates %d bytes, %d entries %d: it reads them all", ListMax+1, page, 4*ListMax+1, whole)
	}
	var d listData
	if err := json.Unmarshal(get(t, s, "/api/quarantine").Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Entries) != ListMax || d.Total != 4*ListMax+1 || !d.Truncated || d.Entries[0].Time.Before(d.Entries[ListMax-1].Time) {
		t.Errorf("%d entries of %d, truncated %v, newest first: %v", len(d.Entries), d.Total, d.Truncated, !d.Entries[0].Time.Before(d.Entries[ListMax-1].Time))
	}
}

// An entry's page shows at most Shown bytes of the header and of each text
// part, and says so.
func TestShownBound(t *testing.T) {
	s, q := newTest(t)
	long := strings.Repeat("A", Shown+10)
	msg := "Subject: big\r\nX-Long: " + long + "\r\nContent-Type: text/html\r\n\r\n<p>" + long + "</p>\r\n"
	id, err := q.Put(context.Background(), quarantine.Record{Time: time.Now()}, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	var d entryData
	if err := json.Unmarshal(get(t, s, "/api/quarantine/"+id).Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Headers) > Shown+100 || !strings.HasSuffix(d.Headers, "cut at 64 KiB]") {
		t.Errorf("headers: %d bytes", len(d.Headers))
	}
	if len(d.Texts) != 1 || len(d.Texts[0].Text) != Shown || !d.Texts[0].Truncated || d.Subject != "big" {
		t.Errorf("texts %d, subject %q", len(d.Texts), d.Subject)
	}
	if page := get(t, s, "/quarantine/"+id).Body.String(); !strings.Contains(page, "&lt;p&gt;AAAA") || strings.Contains(page, "<p>AAAA") {
		t.Errorf("the HTML part is not shown as escaped source")
	}
}

// An entry's page shows the first maxTexts text parts.
func TestTextsBound(t *testing.T) {
	s, q := newTest(t)
	var b strings.Builder
	b.WriteString("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range maxTexts + 1 {
		b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\npart " + strconv.Itoa(i) + "\r\n")
	}
	b.WriteString("--b--\r\n")
	id, err := q.Put(context.Background(), quarantine.Record{Time: time.Now()}, strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var d entryData
	json.Unmarshal(get(t, s, "/api/quarantine/"+id).Body.Bytes(), &d)
	if len(d.Texts) != maxTexts || len(d.Parts) != maxTexts+2 || !strings.HasPrefix(d.Texts[0].Text, "part 0") {
		t.Errorf("%d texts, %d parts", len(d.Texts), len(d.Parts))
	}
}

// The login rate limit: LoginBurst wrong passwords from one address, then
// even the right one is answered 429 without being checked, on the form
// and with Basic; another address may still try.
func TestLoginRateLimit(t *testing.T) {
	s, _ := newTest(t)
	s.o.LoginEvery = time.Hour // no refill while the test runs
	post := func(addr, pass string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"user": {"rev"}, "password": {pass}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	for i := range loginBurst {
		if w := post("192.0.2.1:1000", fmt.Sprint("guess", i)); w.Code != 401 {
			t.Errorf("wrong password %d: %d", i, w.Code)
		}
	}
	if w := post("192.0.2.1:1001", "a long enough password"); w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Errorf("after %d failures: %d, want 429", loginBurst, w.Code)
	}
	r := httptest.NewRequest("GET", "/api/quarantine", nil)
	r.SetBasicAuth("rev", "a long enough password")
	r.RemoteAddr = "192.0.2.1:1002"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 429 {
		t.Errorf("Basic after the limit: %d, want 429", w.Code)
	}
	if w := post("192.0.2.2:1000", "a long enough password"); w.Code != 303 || !strings.Contains(w.Header().Get("Set-Cookie"), "outguard_session=") {
		t.Errorf("another address: %d", w.Code)
	}
}

// Sessions are bounded: the oldest goes when the table is full.
func TestSessionBound(t *testing.T) {
	s, _ := newTest(t)
	first := s.newSession("rev", "")
	for range maxSessions {
		s.newSession("rev", "")
	}
	if len(s.sessions) != maxSessions {
		t.Errorf("%d sessions", len(s.sessions))
	}
	if _, ok := s.sessions[first]; ok {
		t.Errorf("the oldest session survived a full table")
	}
}

// Login buckets are bounded: full ones are forgotten when the table is
// full; when all are in use, the fullest goes and a new address may try
// (TestReviewLoginTableFullLocksNoOneOut).
func TestLimiterBound(t *testing.T) {
	s, _ := newTest(t)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxLimiters {
		s.limiter(addr(i)).Allow() // each has failed once: in use
	}
	if l := s.limiter(addr(maxLimiters)); l.Tokens() < 1 || len(s.limiters) != maxLimiters {
		t.Errorf("a new address may not try while every bucket is in use, or the table grew: %d", len(s.limiters))
	}
	s.limiters[addr(0)] = rate.NewLimiter(rate.Every(loginEvery), loginBurst) // one has refilled: it goes
	if l := s.limiter(addr(maxLimiters + 1)); l.Tokens() < 1 {
		t.Errorf("a new address may not try with a free slot")
	}
}

// A users file with a bad line lets nobody in, rather than guessing.
func TestBadUsersFile(t *testing.T) {
	s, _ := newTest(t)
	data, _ := os.ReadFile(s.o.UsersFile)
	os.WriteFile(s.o.UsersFile, append(data, "eve:plaintext:admin\n"...), 0o640)
	if w := get(t, s, "/api/quarantine"); w.Code != 401 {
		t.Errorf("with a bad users file: %d", w.Code)
	}
	for _, bad := range []string{"a:$2a$10$x:admin\n", "a:b\n", "a:" + strings.Repeat("x", 60) + ":viewer\n", "x y:$2a$:admin\n"} {
		if _, err := parseUsers([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{"/quarantine/x?y=1": "/quarantine/x?y=1", "//evil.test/": "/", "https://evil.test/": "/",
		"/\\evil.test": "/", "javascript:alert(1)": "/", "": "/", "/a\r\nSet-Cookie: x": "/", "/\t/evil.test": "/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInert(t *testing.T) {
	for in, want := range map[string]string{"\x1b[2Jx": `\x1b[2Jx`, "a\u202eb": `a\u202eb`, "\u009b31m": `\u009b31m`, "ok\n\tok": "ok\n\tok", "\xff": `\xff`, "<b>": "<b>"} {
		if got := inert(in); got != want {
			t.Errorf("inert(%q) = %q, want %q", in, got, want)
		}
	}
	if got := line("a\nb\tc"); got != `a\nb\tc` {
		t.Errorf("line: %q", got)
	}
}

// Whatever a message carries, inert text has no control character, no
// bidirectional override and no invalid UTF-8 left; line has no newline
// or tab either.
func FuzzInert(f *testing.F) {
	for _, s := range []string{"\x1b]0;title\x07", "a\u202eexe.pdf", "\r\n\x00\x7f\x9b", "\xff\xfe", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := line(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		for _, r := range out {
			if unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c {
				t.Fatalf("%q left in %q", r, out)
			}
		}
	})
}

// Every answer carries the headers that keep a hostile message inert: no
// script, no external resource, no framing.
func TestSecurityHeaders(t *testing.T) {
	s, _ := newTest(t)
	for _, path := range []string{"/login", "/quarantine", "/api/quarantine", "/static/style.css"} {
		h := get(t, s, path).Header()
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: %v", path, h)
		}
	}
	r := httptest.NewRequest("GET", "/quarantine", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") || !strings.Contains(w.Body.String(), `action="/login"`) {
		t.Errorf("a page without credentials: %d %v", w.Code, w.Header())
	}
}

// The relayprobe page: the latest scan, and what is new or fixed since the
// one before, escaped like everything else.
func TestRelayprobePage(t *testing.T) {
	s, _ := newTest(t)
	dir := t.TempDir()
	s.o.RelayprobeDir = dir
	s.routes()
	targets := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	ports := probe.Ports{"smtp": {25}, "proxy": {3128}}
	prev := &probe.Scan{Started: time.Now().Add(-2 * time.Hour), Targets: targets, Ports: ports, Findings: []probe.OpenService{
		{Target: "192.0.2.7:25", Service: "smtp-relay", Result: probe.Confirmed, Test: "plain"},
	}}
	cur := &probe.Scan{Started: time.Now().Add(-time.Hour), Targets: targets, Ports: ports, Findings: []probe.OpenService{
		{Target: "192.0.2.9:3128", Service: "http-connect", Result: probe.Confirmed, Test: "connect", Evidence: "<script>alert(1)</script>"},
	}}
	for _, sc := range []*probe.Scan{prev, cur} {
		if err := sc.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	var d relayprobeData
	if err := json.Unmarshal(get(t, s, "/api/relayprobe").Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Scan == nil || len(d.Diff.New) != 1 || d.Diff.New[0].Target != "192.0.2.9:3128" || len(d.Diff.Fixed) != 1 || d.Diff.Fixed[0].Target != "192.0.2.7:25" {
		t.Errorf("relayprobe: %+v", d)
	}
	page := get(t, s, "/relayprobe").Body.String()
	if !strings.Contains(page, "192.0.2.9:3128") || !strings.Contains(page, "&lt;script&gt;") || strings.Contains(page, "<script>") {
		t.Errorf("relayprobe page:\n%s", page)
	}
}

// A request body is bounded (maxForm): a login form past it is not read,
// so it logs nobody in.
func TestFormBound(t *testing.T) {
	s, _ := newTest(t)
	post := func(pad int) int {
		body := url.Values{"user": {"rev"}, "password": {"a long enough password"}, "pad": {strings.Repeat("x", pad)}}.Encode()
		r := httptest.NewRequest("POST", "/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}
	if code := post(maxForm - 200); code != 303 {
		t.Errorf("a form under the bound: %d", code)
	}
	if code := post(maxForm); code == 303 {
		t.Errorf("a form over the bound was read")
	}
}

// The users file is read again when it changes: a changed role, a changed
// password (it ends the user's sessions) and a removed user take effect on
// the next request, for open sessions too; a script's repeated Basic calls are checked against the
// cache, not bcrypt, until then.
func TestUsersFileReload(t *testing.T) {
	s, _ := newTest(t)
	a, _, _ := s.users.lookup("rev")
	sid := s.newSession("rev", string(a.hash))
	call := func(method, path string, basic bool) int {
		r := httptest.NewRequest(method, path, nil)
		if basic {
			r.SetBasicAuth("rev", "a long enough password")
		} else {
			r.AddCookie(&http.Cookie{Name: cookieName, Value: sid})
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}
	if call("GET", "/api/quarantine", true) != 200 || len(s.users.verified) != 1 {
		t.Fatalf("Basic: the verified password is not cached")
	}
	if err := AddUser(s.o.UsersFile, "rev", Viewer, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if code := call("POST", "/api/quarantine/x/delete", true); code != 403 {
		t.Errorf("a reviewer made viewer: %d", code)
	}
	if err := AddUser(s.o.UsersFile, "rev", Viewer, "another long password"); err != nil {
		t.Fatal(err)
	}
	if code := call("GET", "/api/quarantine", true); code != 401 {
		t.Errorf("the old password after a change: %d", code)
	}
	if code := call("GET", "/api/quarantine", false); code != 401 {
		t.Errorf("the session after a password change: %d", code)
	}
	a, _, _ = s.users.lookup("rev")
	sid = s.newSession("rev", string(a.hash))
	if code := call("GET", "/api/quarantine", false); code != 200 {
		t.Errorf("a new session: %d", code)
	}
	os.WriteFile(s.o.UsersFile, nil, 0o640)
	if code := call("GET", "/api/quarantine", false); code != 401 {
		t.Errorf("the session of a removed user: %d", code)
	}
}

// The campaigns pages: a viewer reads the list and a campaign with the
// accounts that sent it (a hostile subject shown as text), the API gives
// them as JSON, an unknown campaign is 404, and the account's page links
// the campaign it sent.
func TestCampaignsPage(t *testing.T) {
	dir := t.TempDir()
	st, err := limits.OpenSQLite(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := filepath.Join(dir, "users")
	if err := AddUser(users, "rev", Viewer, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	pol, _ := limits.NewPolicy(limits.Limits{}, nil)
	s, err := New(Options{Accounts: st, Policy: pol, Login: func(s string) string { return s }, UsersFile: users})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for b := range 20 {
		keys = append(keys, fmt.Sprintf("t1web%02d", b))
	}
	var id string
	for i := range 5 {
		res, err := st.CampaignCopy(context.Background(), limits.CampaignCopy{Keys: keys, Account: fmt.Sprint("acct", i), Subject: "<script>alert(1)</script> verify", Time: time.Now(), Bands: 5}, 15*time.Minute, 5)
		if err != nil {
			t.Fatal(err)
		}
		id = res.ID
	}
	page := get(t, s, "/campaigns")
	if body := page.Body.String(); page.Code != 200 || !strings.Contains(body, "/campaigns/"+id) || !strings.Contains(body, "&lt;script&gt;") || strings.Contains(body, "<script>") {
		t.Fatalf("campaigns page %d:\n%s", page.Code, body)
	}
	var d campaignsData
	if err := json.Unmarshal(get(t, s, "/api/campaigns").Body.Bytes(), &d); err != nil || len(d.Campaigns) != 1 || d.Campaigns[0].ID != id {
		t.Fatalf("api %v %+v", err, d)
	}
	var c limits.Campaign
	if err := json.Unmarshal(get(t, s, "/api/campaigns/"+id).Body.Bytes(), &c); err != nil || len(c.Accounts) != 5 {
		t.Fatalf("api campaign %v %+v", err, c)
	}
	if body := get(t, s, "/campaigns/"+id).Body.String(); !strings.Contains(body, `href="/accounts/acct3"`) {
		t.Errorf("campaign page:\n%s", body)
	}
	if w := get(t, s, "/campaigns/nope"); w.Code != 404 {
		t.Errorf("unknown campaign: %d", w.Code)
	}
	if body := get(t, s, "/accounts/acct2").Body.String(); !strings.Contains(body, `href="/campaigns/`+id+`"`) {
		t.Errorf("account page lacks its campaign:\n%s", body)
	}
}
