package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"outguard/config"
	"outguard/containment"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/setup"
)

// storeConfig is the config of a limits store of kind (sqlite: in
// state_dir), with the limits lines given.
func storeConfig(t *testing.T, kind, limitLines string) string {
	if kind == "sqlite" {
		return "limits:\n" + limitLines
	}
	return sharedStore(t, kind, limitLines)
}

// queue returns Postfix's queue (postqueue -j, a tool nobody here wrote):
// queue id -> queue name.
func queue(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, err := exec.Command("postqueue", "-c", dir, "-j").Output()
	if err != nil {
		t.Fatalf("postqueue -j: %v", err)
	}
	q := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var m struct {
			Queue string `json:"queue_name"`
			ID    string `json:"queue_id"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("postqueue -j: %v: %s", err, line)
		}
		q[m.ID] = m.Queue
	}
	return q
}

// inQueue returns the ids in Postfix's queue named name, sorted.
// heldWithin waits until n messages are in Postfix's hold queue of dir,
// at most 5 s after since, and returns those held then (sorted).
func heldWithin(t *testing.T, dir string, n int, since time.Time) []string {
	var held []string
	for time.Since(since) < 5*time.Second {
		if held = inQueue(t, dir, "hold"); len(held) == n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return held
}

func inQueue(t *testing.T, dir, name string) []string {
	var ids []string
	for id, n := range queue(t, dir) {
		if n == name {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// retryFast makes a test Postfix retry deferred mail every second or two
// (the default minimal_backoff_time is 300 s): a held message that would
// otherwise go out does so within the test.
var retryFast = map[string]string{"minimal_backoff_time": "1s", "maximal_backoff_time": "2s", "queue_run_delay": "1s"}

// containmentHost is one smarthost of the test: a real Postfix with its
// in-process milter, and milterd's containment sweep running against its
// queue as milterd runs it.
type containmentHost struct {
	s       *harness.Stack
	cfg     *config.Config
	ctlConf string // milterctl's config on this host
	log     *harness.LogBuffer
}

// startContainmentHost starts a host; sweep runs milterd's sweep (off
// where the test checks what milterctl does by itself, which the sweep
// could otherwise do first).
func startContainmentHost(t *testing.T, text string, access map[string]string, sweep bool) *containmentHost {
	s, cfg, res := harness.ConfigStack(t, text, harness.MTAConfig{RcptAccess: access, Main: retryFast})
	// The MTA's config directory is known once it runs.
	cfg.Limits.MTA.ConfigDir = s.Postfix.Dir
	h := &containmentHost{s: s, cfg: cfg, log: &harness.LogBuffer{}}
	h.ctlConf = writeConfig(t, fmt.Sprintf("state_dir: %s\n%s  mta: {kind: postfix, config_dir: %s}\n", cfg.StateDir, text, s.Postfix.Dir))
	if !sweep {
		return h
	}
	c := setup.Containment(cfg, res.Store, harness.Logger(t, h.log))
	runSweep(t, c)
	return h
}

// runSweep runs c's sweep, as milterd does, until the test ends.
func runSweep(t *testing.T, c *containment.Containment) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// deferThree sends three messages of alice's to a receiver that answers
// 4xx and waits until the three are deferred; it returns their ids.
func (h *containmentHost) deferThree(t *testing.T) []string {
	t.Helper()
	sendThree(t, h.s)
	// Deferred once each; with retryFast one may be back in the active
	// queue for its next try at any moment.
	var ids []string
	waitFor(t, "three messages deferred", func() bool {
		q := queue(t, h.s.Postfix.Dir)
		if len(q) != 3 || strings.Count(h.s.Postfix.LogText(), "status=deferred") < 3 {
			return false
		}
		ids = ids[:0]
		for id := range q {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return true
	})
	return ids
}

// TestQueueFollowsTheSuspension: an account with three messages deferred
// in a real Postfix's queue (the receiver answers 450) is suspended by
// undeliverable recipients; within 5 s the three are in Postfix's hold
// queue, and when the receiver accepts again none goes out, though
// Postfix retries every second or two. "milterctl accounts show" lists
// them held; "unsuspend --release-queued" puts them back and they are
// delivered. On each store.
func TestQueueFollowsTheSuspension(t *testing.T) {
	for _, kind := range []string{"sqlite", "redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			access, refused := harness.RejectAll(3)
			alerts := filepath.Join(harness.Dir(t, "alerts"), "alerts.json")
			h := startContainmentHost(t, storeConfig(t, kind, fmt.Sprintf("  default: {undeliverable_per_hour: 3}\n  on_suspend_queued: hold\n  alert: {command: [sh, -c, 'cat >> \"$0\"; echo >> \"$0\"', %q]}\n", alerts)), access, true)
			bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
			ids := h.deferThree(t)

			// Three refused recipients suspend alice.
			h.s.Dial(t).Send("alice@customer.test", refused, msg("bounces"))
			suspended := time.Now()
			if out, _ := milterctl(t, bin, h.ctlConf, "accounts", "list", "--suspended"); !strings.Contains(out, harness.User) {
				t.Fatalf("alice not suspended:\n%s", out)
			}
			held := heldWithin(t, h.s.Postfix.Dir, 3, suspended)
			if fmt.Sprint(held) != fmt.Sprint(ids) {
				t.Fatalf("5 s after the suspension, held %v; want %v\n%s", held, ids, h.log.String())
			}
			t.Logf("held %.1f s after the suspension", time.Since(suspended).Seconds())
			waitFor(t, "the queue held alert", func() bool {
				b, _ := os.ReadFile(alerts)
				return strings.Contains(string(b), `"event":"queue held"`)
			})
			b, _ := os.ReadFile(alerts)
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var al limits.Alert
				if json.Unmarshal([]byte(line), &al) == nil && al.Event == "queue held" && (al.Account != harness.User || fmt.Sprint(al.QueueIDs) != fmt.Sprint(ids) || al.Host == "") {
					t.Errorf("queue held alert: %s", line)
				}
			}

			// The receiver accepts again; Postfix retries, but not held mail.
			h.s.Sink.Answer("later@remote.test", 0, nil)
			exec.Command("postqueue", "-c", h.s.Postfix.Dir, "-f").Run()
			time.Sleep(4 * time.Second)
			if n := len(h.s.Sink.Messages()); n != 0 {
				t.Fatalf("%d held messages delivered", n)
			}
			out, code := milterctl(t, bin, h.ctlConf, "accounts", "show", harness.User)
			if code != 0 || !strings.Contains(out, "In this host's queue: 3 message(s)") || strings.Count(out, "\thold") != 3 {
				t.Errorf("accounts show (%d):\n%s", code, out)
			}
			out, code = milterctl(t, bin, h.ctlConf, "accounts", "unsuspend", harness.User, "--release-queued")
			if code != 0 || !strings.Contains(out, "3 message(s) "+strings.Join(ids, " ")) {
				t.Fatalf("unsuspend --release-queued (%d):\n%s", code, out)
			}
			exec.Command("postqueue", "-c", h.s.Postfix.Dir, "-f").Run()
			h.s.Sink.Wait(t, 3, 20*time.Second)
			waitFor(t, "the queue empty", func() bool { return len(queue(t, h.s.Postfix.Dir)) == 0 })
		})
	}
}

// TestQueueFollowsAManualSuspensionAcrossAFleet: two smarthosts (two
// Postfix, two in-process milters, each with its sweep) share a store;
// each has three of alice's messages deferred. An operator suspends alice
// with milterctl on host 1: host 1's are held at once (milterctl acts on
// its own queue), host 2's within 5 s by host 2's sweep, each host on its
// own queue ids. "unsuspend --delete-queued" on host 1 deletes host 1's;
// host 2's stay held until settled on host 2 (after the account was
// lifted elsewhere).
func TestQueueFollowsAManualSuspensionAcrossAFleet(t *testing.T) {
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			text := storeConfig(t, kind, "  on_suspend_queued: hold\n")
			h1 := startContainmentHost(t, text+"  host: mx1\n", nil, false)
			h2 := startContainmentHost(t, text+"  host: mx2\n", nil, true)
			bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
			ids1, ids2 := h1.deferThree(t), h2.deferThree(t)

			out, code := milterctl(t, bin, h1.ctlConf, "accounts", "suspend", harness.User, "--reason", "phished")
			suspended := time.Now()
			if code != 0 || !strings.Contains(out, "queued on this host: "+strings.Join(ids1, " ")+" (hold)") {
				t.Fatalf("suspend (%d):\n%s", code, out)
			}
			if held := inQueue(t, h1.s.Postfix.Dir, "hold"); fmt.Sprint(held) != fmt.Sprint(ids1) {
				t.Fatalf("host 1 held %v when milterctl returned; want %v", held, ids1)
			}
			held := heldWithin(t, h2.s.Postfix.Dir, 3, suspended)
			if fmt.Sprint(held) != fmt.Sprint(ids2) {
				t.Fatalf("host 2, 5 s after the suspension: held %v; want %v\n%s", held, ids2, h2.log.String())
			}
			// The sweep logs its hold after postsuper has done it: the
			// queue may show the hold before the line is written.
			line := fmt.Sprintf("host=mx2 queue_ids=\"%v\"", ids2)
			waitFor(t, "host 2's line of its hold", func() bool { return strings.Contains(h2.log.String(), line) })
			for _, id := range ids1 {
				if strings.Contains(h2.log.String(), id) {
					t.Errorf("host 2 acted on host 1's %s:\n%s", id, h2.log.String())
				}
			}

			out, code = milterctl(t, bin, h1.ctlConf, "accounts", "unsuspend", harness.User, "--delete-queued")
			if code != 0 || !strings.Contains(out, "deleted: 3 message(s)") {
				t.Fatalf("unsuspend --delete-queued (%d):\n%s", code, out)
			}
			waitFor(t, "host 1's queue empty", func() bool { return len(queue(t, h1.s.Postfix.Dir)) == 0 })
			if held := inQueue(t, h2.s.Postfix.Dir, "hold"); len(held) != 3 {
				t.Fatalf("host 2's held mail after host 1 settled its own: %v", held)
			}
			out, code = milterctl(t, bin, h2.ctlConf, "accounts", "unsuspend", harness.User, "--release-queued")
			if code != 0 || !strings.Contains(out, "was not suspended") || !strings.Contains(out, "released: 3 message(s)") {
				t.Fatalf("unsuspend --release-queued on host 2 (%d):\n%s", code, out)
			}
			h2.s.Sink.Answer("later@remote.test", 0, nil)
			exec.Command("postqueue", "-c", h2.s.Postfix.Dir, "-f").Run()
			h2.s.Sink.Wait(t, 3, 20*time.Second)
			if n := len(h1.s.Sink.Messages()); n != 0 {
				t.Errorf("host 1 delivered %d deleted messages", n)
			}
		})
	}
}

// TestSudoersLineIsNarrow: the sudoers file make install puts in
// /etc/sudoers.d parses (sudo's own visudo), and allows user outguard
// exactly the three calls of the root-owned helper containment runs
// (etc/libexec/outguard-postsuper, which checks the ids on its stdin): no
// other user, command or argument; postsuper itself not at all.
func TestSudoersLineIsNarrow(t *testing.T) {
	harness.Require(t, "visudo")
	if out, err := exec.Command("visudo", "-cf", "../etc/sudoers.d/outguard").CombinedOutput(); err != nil {
		t.Fatalf("visudo: %v\n%s", err, out)
	}
	data, err := os.ReadFile("../etc/sudoers.d/outguard")
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			rules = append(rules, l)
		}
	}
	want := "outguard ALL=(root) NOPASSWD: /usr/lib/outguard/outguard-postsuper hold, /usr/lib/outguard/outguard-postsuper release, /usr/lib/outguard/outguard-postsuper delete"
	if len(rules) != 1 || rules[0] != want {
		t.Errorf("sudoers rules %q; want exactly %q", rules, want)
	}
}

// TestQueueDeletedOnSuspension: with on_suspend_queued: delete, a manual
// suspension deletes the account's deferred messages (another account's
// stay queued); none is delivered when the receiver accepts again; the
// audit trail (milterctl accounts audit) has the suspension with the
// operator, and the deletion with the queue ids and the host.
func TestQueueDeletedOnSuspension(t *testing.T) {
	t.Parallel()
	h := startContainmentHost(t, storeConfig(t, "sqlite", "  on_suspend_queued: delete\n  host: mx7\n"), nil, false)
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	ids := h.deferThree(t)
	if r := harness.Dial(t, h.s.Postfix.Addr(), "bob", "secret-bob").Send("bob@customer.test", []string{"later@remote.test"}, harness.Msg("bob@customer.test", "later@remote.test", "bob's", "hi")); r.Err != nil {
		t.Fatalf("bob: %s", harness.Reply(r.Err))
	}
	waitFor(t, "bob's deferred too", func() bool {
		return len(queue(t, h.s.Postfix.Dir)) == 4 && strings.Count(h.s.Postfix.LogText(), "status=deferred") >= 4
	})

	out, code := milterctl(t, bin, h.ctlConf, "accounts", "suspend", harness.User, "--reason", "phished", "--for", "2h")
	if code != 0 || !strings.Contains(out, "(delete)") {
		t.Fatalf("suspend (%d):\n%s", code, out)
	}
	left := queue(t, h.s.Postfix.Dir)
	if len(left) != 1 {
		t.Fatalf("after the suspension the queue holds %v; want bob's alone", left)
	}
	for _, id := range ids {
		if _, ok := left[id]; ok {
			t.Fatalf("alice's %s still queued", id)
		}
	}
	h.s.Sink.Answer("later@remote.test", 0, nil)
	exec.Command("postqueue", "-c", h.s.Postfix.Dir, "-f").Run()
	msgs := h.s.Sink.Wait(t, 1, 20*time.Second)
	time.Sleep(2 * time.Second)
	if msgs = h.s.Sink.Messages(); len(msgs) != 1 || msgs[0].From != "bob@customer.test" {
		t.Fatalf("delivered %d messages; want bob's alone", len(msgs))
	}
	out, code = milterctl(t, bin, h.ctlConf, "accounts", "audit", harness.User, "--json")
	var trail []struct{ Event, By, Host, Detail string }
	if err := json.Unmarshal([]byte(out), &trail); code != 0 || err != nil || len(trail) != 2 {
		t.Fatalf("audit (%d, %v):\n%s", code, err, out)
	}
	if trail[0].Event != "suspended" || trail[0].By == "" || trail[0].By == "milterd" || trail[0].Host != "mx7" || !strings.Contains(trail[0].Detail, "phished; until ") {
		t.Errorf("suspension in the trail: %+v", trail[0])
	}
	if trail[1].Event != "queue deleted" || trail[1].Host != "mx7" || trail[1].Detail != strings.Join(ids, " ") {
		t.Errorf("deletion in the trail: %+v (want ids %v)", trail[1], ids)
	}
}

// TestQueueFollowsTheSuspensionOnSendmail is TestQueueFollowsTheSuspension
// on a real Sendmail: three of alice's messages deferred in its queue (the
// receiver answers 4xx), alice suspended; within 5 s the three are
// quarantined (mailq -qQ lists them with outguard's reason, a tool
// nobody here wrote), a queue run delivers none though the receiver
// accepts again; one deleted (its files), the others released, a queue
// run delivers the two. Alice is suspended by three recipients Sendmail
// refused, counted from its log (Sendmail does not tell the milter).
func TestQueueFollowsTheSuspensionOnSendmail(t *testing.T) {
	// Sendmail refuses recipients without asking the milter and logs it
	// (syslog only): the follower counts them from its log, as milterd.
	maillog := filepath.Join(t.TempDir(), "mail.log")
	harness.StartSyslog(t, maillog)
	access, refused := harness.RejectAll(3)
	s, cfg, res := harness.ConfigStack(t, "limits: {on_suspend_queued: hold, default: {undeliverable_per_hour: 3}}\n", harness.MTAConfig{Sendmail: true, RcptAccess: access})
	bin := filepath.Join(harness.SendmailRoot, "usr/libexec/sendmail/sendmail")
	// As harness.SendmailQueueRun: the test machine's host name has no
	// dot, which makes a Sendmail started outside a UTS namespace sleep.
	q := &containment.Sendmail{Config: s.Postfix.Dir + "/sendmail.cf",
		Command: []string{"unshare", "--uts", "sh", "-c", `hostname 127.0.0.1 && exec "$@"`, "sh", bin}}
	log := &harness.LogBuffer{}
	c := containment.New(containment.Options{Store: res.Store, Host: cfg.HostName(), Queue: q, Action: containment.Hold, Log: harness.Logger(t, log)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	eng, err := setup.LimitsEngine(cfg, res.Store, harness.Logger(t, log))
	if err != nil {
		t.Fatal(err)
	}
	followed := make(chan struct{})
	go func() {
		(&limits.Follower{Path: maillog, PosFile: filepath.Join(t.TempDir(), "pos"), FromStart: true, Engine: eng, Log: harness.Logger(t, log), Poll: 50 * time.Millisecond}).Run(ctx)
		close(followed)
	}()
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; <-followed })
	mailq := func(args ...string) string {
		out, _ := exec.Command("unshare", append([]string{"--uts", "sh", "-c", `hostname 127.0.0.1 && exec "$@"`, "sh", bin, "-C", q.Config, "-bp"}, args...)...).CombinedOutput()
		return string(out)
	}

	s.Sink.Defer("later@remote.test")
	for i := range 3 {
		if r := s.Dial(t).Send("alice@customer.test", []string{"later@remote.test"}, harness.Msg("alice@customer.test", "later@remote.test", fmt.Sprint("queued ", i), "spam")); r.Err != nil {
			t.Fatalf("send %d: %s", i, harness.Reply(r.Err))
		}
	}
	var ids []string
	waitFor(t, "three messages queued", func() bool {
		l, err := q.List(context.Background())
		ids = ids[:0]
		for id := range l {
			ids = append(ids, id)
		}
		return err == nil && len(ids) == 3
	})
	sort.Strings(ids)
	recorded, _ := res.Store.Queued(context.Background(), cfg.HostName(), harness.User)
	sort.Strings(recorded)
	if fmt.Sprint(recorded) != fmt.Sprint(ids) {
		t.Fatalf("milterd recorded %v; Sendmail's queue has %v", recorded, ids)
	}

	// Three recipients Sendmail refuses (its access map): suspended by
	// undeliverables, from its log. Sendmail logs the refusals at RCPT:
	// a follower that reads them before the end of DATA suspends alice
	// during the message, which is then refused for it (CI, under load).
	if r := s.Dial(t).Send("alice@customer.test", append(refused, "ok@remote.test"), harness.Msg("alice@customer.test", "ok@remote.test", "bounces", "spam")); r.Err != nil &&
		!strings.HasPrefix(harness.Reply(r.Err), "451 4.7.1 Account suspended for sending to too many undeliverable recipients") {
		t.Fatalf("send: %s", harness.Reply(r.Err))
	}
	waitFor(t, "alice suspended", func() bool {
		_, susp, _ := res.Store.Usage(context.Background(), harness.User, time.Now())
		return susp.Active(time.Now())
	})
	suspended := time.Now()
	var held []string
	for time.Since(suspended) < 5*time.Second {
		if held = inHold(t, q); len(held) == 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fmt.Sprint(held) != fmt.Sprint(ids) {
		t.Fatalf("5 s after the suspension, held %v; want %v\n%s", held, ids, log.String())
	}
	if out := mailq("-qQ"); strings.Count(out, containment.Reason) != 3 {
		t.Errorf("mailq -qQ does not list the three quarantined:\n%s", out)
	}
	s.Sink.Answer("later@remote.test", 0, nil)
	harness.SendmailQueueRun(t, s.Postfix)
	if n := toLater(s.Sink.Messages()); n != 0 {
		t.Fatalf("a queue run delivered %d held messages", n)
	}
	// Sendmail has no delete: the first is deleted by its files.
	if err := q.Delete(context.Background(), ids[:1]); err != nil {
		t.Fatal(err)
	}
	if l, _ := q.List(context.Background()); len(l) != 2 || l[ids[0]] != "" {
		t.Fatalf("after deleting %s: %v", ids[0], l)
	}
	if _, err := res.Store.Unsuspend(context.Background(), harness.User, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Settle(context.Background(), harness.User, true, "operator"); err != nil || fmt.Sprint(got) != fmt.Sprint(ids[1:]) {
		t.Fatalf("release: %v %v", got, err)
	}
	if held := inHold(t, q); len(held) != 0 {
		t.Fatalf("still held after release: %v", held)
	}
	harness.SendmailQueueRun(t, s.Postfix)
	waitFor(t, "the two released delivered", func() bool { return toLater(s.Sink.Messages()) == 2 })
	time.Sleep(time.Second)
	if n := toLater(s.Sink.Messages()); n != 2 {
		t.Errorf("%d delivered, want the 2 released (not the deleted one)", n)
	}
	if out := mailq(); !strings.Contains(out, "is empty") {
		t.Errorf("mailq after the run:\n%s", out)
	}
	trail, _ := res.Store.AuditTrail(context.Background(), harness.User, time.Time{})
	var events []string
	for _, ev := range trail {
		events = append(events, ev.Event)
	}
	if fmt.Sprint(events) != "[suspended queue held queue released]" {
		t.Errorf("audit trail: %v", events)
	}
}

// toLater counts the messages to later@remote.test (alice's queued ones).
func toLater(msgs []harness.Message) int {
	n := 0
	for _, m := range msgs {
		if slices.Contains(m.Rcpts, "later@remote.test") {
			n++
		}
	}
	return n
}

// inHold returns the ids in Sendmail's quarantine, sorted.
func inHold(t *testing.T, q *containment.Sendmail) []string {
	l, err := q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id, name := range l {
		if name == containment.HoldQueue {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
