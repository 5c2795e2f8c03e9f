package e2e

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
)

// holdRules is a rules directory whose one rule holds messages tagged
// X-Test-Hold.
func holdRules(t *testing.T) string {
	dir := harness.Dir(t, "rules")
	os.WriteFile(filepath.Join(dir, "hold.yar"), []byte(`rule hold_tagged
{
    meta:
        action = "quarantine"
        description = "test: held on request"
    strings:
        $h = "X-Test-Hold: yes"
    condition:
        $h
}
`), 0o644)
	return dir
}

// milterctl runs the real binary with config cfg.
func milterctl(t *testing.T, bin, cfg string, args ...string) (string, int) {
	out, err := exec.Command(bin, append([]string{"-config", cfg}, args...)...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func writeConfig(t *testing.T, text string) string {
	p := filepath.Join(harness.Dir(t, "ctl"), "milterd.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func held(subject string) string {
	return harness.Msg("alice@customer.test", "victim@remote.test", subject, "click here", "X-Test-Hold: yes")
}

// Two smarthosts (two Postfix, two milterd) share one PostgreSQL for the
// quarantine and the account state. What each holds is listed by one
// milterctl on a third config that has nothing but the store; two
// reviewers on the two hosts release each entry at the same moment, each
// through their own host's release address: one delivery each. The audit
// trail names the hosts and the operators. An account suspended for the
// bounces in host 1's mail log is refused on host 2.
func TestFleetQuarantine(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	bin := harness.Build(t, harness.Dir(t, "bin"), "milterctl")
	rules := holdRules(t)
	yaml := func(host string) string {
		return fmt.Sprintf("postgres: {dsn: %q}\nquarantine: {store: postgres}\nrules: {dir: %s, watch: false}\nlimits:\n  store: postgres\n  host: %s\n  contact: abuse@isp.test\n"+
			"  default: {messages_per_hour: 100, messages_per_day: 100, recipients_per_hour: 100, recipients_per_day: 100, undeliverable_per_hour: 3}\n", pg.DSN, rules, host)
	}
	host1, cfg1, res1 := harness.ConfigStack(t, yaml("mx1"), harness.MTAConfig{})
	host2, _, res2 := harness.ConfigStack(t, yaml("mx2"), harness.MTAConfig{})
	for i, h := range []*harness.Stack{host1, host2} {
		if r := h.Dial(t).Send("alice@customer.test", []string{"victim@remote.test"}, held(fmt.Sprint("held on mx", i+1))); r.Err != nil {
			t.Fatalf("host %d: %s", i+1, harness.Reply(r.Err))
		}
	}
	// Each host's release address relays to one mailbox.
	sink := harness.StartSink(t)
	ctlConfig := func(host string) string {
		rel := harness.StartPostfix(t, harness.MTAConfig{RelayPort: sink.Port})
		return writeConfig(t, fmt.Sprintf("state_dir: %s\npostgres: {dsn: %q}\nquarantine: {store: postgres, release_address: %q}\nlimits: {store: postgres, host: %s}\n", harness.Dir(t, "state"), pg.DSN, rel.Addr(), host))
	}
	onMx1, onMx2 := ctlConfig("mx1"), ctlConfig("mx2")
	admin := writeConfig(t, fmt.Sprintf("state_dir: /nonexistent\npostgres: {dsn: %q}\nquarantine: {store: postgres}\n", pg.DSN))

	out, code := milterctl(t, bin, admin, "quarantine", "list", "--json")
	var recs []quarantine.Record
	if err := json.Unmarshal([]byte(out), &recs); code != 0 || err != nil || len(recs) != 2 {
		t.Fatalf("list from the admin config (%d): %v\n%s", code, err, out)
	}
	if hosts := recs[0].Host + " " + recs[1].Host; hosts != "mx2 mx1" && hosts != "mx1 mx2" {
		t.Errorf("held on hosts %q", hosts)
	}
	for _, rec := range recs {
		codes := make(chan int, 2)
		for _, cfg := range []string{onMx1, onMx2} {
			go func() { _, code := milterctl(t, bin, cfg, "quarantine", "release", rec.ID); codes <- code }()
		}
		if a, b := <-codes, <-codes; a+b != 1 {
			t.Errorf("%s: exit codes %d and %d, want one release and one refusal", rec.ID, a, b)
		}
	}
	sink.Wait(t, 2, 20*time.Second)
	time.Sleep(time.Second) // a second delivery would arrive now
	if n := len(sink.Messages()); n != 2 {
		t.Fatalf("%d deliveries of 2 entries released twice each", n)
	}
	out, _ = milterctl(t, bin, admin, "quarantine", "audit", "--json")
	var log []quarantine.AuditEntry
	json.Unmarshal([]byte(out), &log)
	released, hosts := 0, map[string]bool{}
	for _, a := range log {
		hosts[a.Host] = true
		if a.Action == "release" && strings.HasPrefix(a.Outcome, "released: 250") && a.Operator != "" {
			released++
		}
	}
	if released != 2 || len(log) != 4 || !hosts["mx1"] || !hosts["mx2"] {
		t.Errorf("audit trail (%d releases):\n%s", released, out)
	}
	if out, code := milterctl(t, bin, admin, "quarantine", "show", recs[0].ID); code != 0 || !regexp.MustCompile(`(?m)^Host: +`+recs[0].Host+`$`).MatchString(out) {
		t.Errorf("show from the admin config (%d):\n%s", code, out)
	}
	if out, code := milterctl(t, bin, admin, "quarantine", "list", "--state", "released"); code != 0 || strings.Count(out, "released") != 2 {
		t.Errorf("list --state released (%d):\n%s", code, out)
	}

	// Bounces: host 1's next hop refuses three recipients after Postfix
	// queued the message; host 1's follower reads them in its mail log.
	logger := harness.Logger(t, &harness.LogBuffer{})
	eng, err := setup.LimitsEngine(cfg1, res1.Store, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go func() {
		(&limits.Follower{Path: host1.Postfix.Log, PosFile: filepath.Join(cfg1.StateDir, "maillog.pos"), FromStart: true, Engine: eng, Log: logger, Poll: 50 * time.Millisecond}).Run(ctx)
		close(followed)
	}()
	defer func() { cancel(); <-followed }()
	var gone []string
	for i := range 3 {
		gone = append(gone, fmt.Sprintf("gone%d@remote.test", i))
		host1.Sink.Refuse(gone[i])
	}
	if r := host1.Dial(t).Send("alice@customer.test", gone, harness.Msg("alice@customer.test", gone[0], "spam", "buy")); r.Err != nil {
		t.Fatalf("host 1: %s", harness.Reply(r.Err))
	}
	for i := 0; i < 200; i++ {
		if susp, _ := res2.Store.Suspensions(context.Background()); len(susp) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := host2.Dial(t).Send("alice@customer.test", []string{"friend@remote.test"}, harness.Msg("alice@customer.test", "friend@remote.test", "after", "hi"))
	if got := harness.Reply(r.Err); got != "451 4.7.1 Account suspended for sending to too many undeliverable recipients; contact abuse@isp.test" {
		t.Fatalf("host 2 after bounces on host 1: %q\n%s", got, host1.Postfix.LogText())
	}
	if out, code := milterctl(t, bin, onMx2, "accounts", "list", "--suspended"); code != 0 || !strings.Contains(out, harness.User) {
		t.Errorf("accounts list --suspended from host 2 (%d):\n%s", code, out)
	}
}

// PostgreSQL stops and starts again during a burst of messages, a third of
// them to be held, a MiB each: every message is accepted and delivered,
// held and listed whole, or tempfailed; none is lost, no entry is partial,
// no chunk is left without its entry, and after the restart the pool
// holds messages again by itself.
func TestPostgresRestartDuringHolds(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	s, _, res := harness.ConfigStack(t, fmt.Sprintf("postgres: {dsn: %q}\nquarantine: {store: postgres}\nrules: {dir: %s, watch: false}\n", pg.DSN, holdRules(t)),
		harness.MTAConfig{Main: map[string]string{"smtpd_client_connection_count_limit": "0"}})
	type result struct {
		subject string
		hold    bool
		reply   string
	}
	var mu sync.Mutex
	var results []result
	body := base64.StdEncoding.EncodeToString(random(768 << 10))
	var wg sync.WaitGroup
	// After the 10th reply PostgreSQL stops, with messages in flight; it
	// starts again once two messages to be held were refused while it was
	// down. The senders go on until it is back.
	stopAt, down, restarted := make(chan struct{}), make(chan struct{}), make(chan struct{})
	heldWhileDown := 0
	go func() {
		<-stopAt
		pg.Stop()
		close(down)
		for i := 0; i < 600; i++ {
			mu.Lock()
			n := heldWhileDown
			mu.Unlock()
			if n >= 2 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		pg.Start()
		close(restarted)
	}()
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-restarted:
					if i >= 8 {
						return
					}
				default:
				}
				subject := fmt.Sprintf("w%d-m%d", w, i)
				hold := i%3 == 0
				var extra []string
				if hold {
					extra = append(extra, "X-Test-Hold: yes")
				}
				r := s.Dial(t).Send("alice@customer.test", []string{"v@remote.test"}, harness.Msg("alice@customer.test", "v@remote.test", subject, body, extra...))
				reply := harness.Reply(r.Err)
				mu.Lock()
				results = append(results, result{subject, hold, reply})
				if len(results) == 10 {
					close(stopAt)
				}
				select {
				case <-down:
					if hold && reply != "250" {
						heldWhileDown++
					}
				default:
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	<-restarted
	// After the restart: held again, without a milterd restart.
	r := s.Dial(t).Send("alice@customer.test", []string{"v@remote.test"}, held("after the restart"))
	results = append(results, result{"after the restart", true, harness.Reply(r.Err)})

	inQuarantine, stored := heldSubjects(t, res.Quarantine)
	var accepted, heldOK, tempfailed int
	delivered := map[string]bool{}
	s.Sink.Wait(t, 1, 20*time.Second)
	time.Sleep(2 * time.Second)
	for _, m := range s.Sink.Messages() {
		delivered[subject(m.Data)] = true
	}
	for _, r := range results {
		switch {
		case r.reply == "250" && r.hold:
			heldOK++
			if inQuarantine[r.subject] == 0 || delivered[r.subject] {
				t.Errorf("%s: accepted to be held, but held %v, delivered %v", r.subject, inQuarantine[r.subject], delivered[r.subject])
			}
		case r.reply == "250":
			accepted++
			if !delivered[r.subject] || inQuarantine[r.subject] > 0 {
				t.Errorf("%s: accepted, but delivered %v, held %v", r.subject, delivered[r.subject], inQuarantine[r.subject])
			}
		case strings.HasPrefix(r.reply, "451 4."):
			tempfailed++
			if inQuarantine[r.subject] > 0 || delivered[r.subject] {
				t.Errorf("%s: tempfailed, but held %v, delivered %v", r.subject, inQuarantine[r.subject], delivered[r.subject])
			}
		default:
			t.Errorf("%s: %q", r.subject, r.reply)
		}
	}
	t.Logf("%d delivered, %d held, %d tempfailed", accepted, heldOK, tempfailed)
	if stored != heldOK {
		t.Errorf("%d entries for %d messages accepted to be held", stored, heldOK)
	}
	if tempfailed == 0 || results[len(results)-1].reply != "250" || inQuarantine["after the restart"] == 0 {
		t.Errorf("the restart was not seen (%d tempfailed), or the pool did not recover: %q", tempfailed, results[len(results)-1].reply)
	}
	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var orphans int
	if err := db.QueryRow(`SELECT COUNT(DISTINCT id) FROM chunks WHERE id NOT IN (SELECT id FROM entries)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d messages' chunks without an entry (%v)", orphans, err)
	}
}
