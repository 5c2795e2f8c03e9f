// Command replay measures the abuse desk's two numbers for automatic
// suspension: false suspensions (goal 0), and how long after the log line
// that crosses a compromised account's threshold its suspension is in the
// store (goal ≤ 1 s).
//
// It writes a realistic Postfix log of a simulated day, compressed into
// -seconds of real time, and runs the real follower and store over it
// (SQLite, Redis and PostgreSQL on servers it starts; and SQLite with the
// log in a systemd journal written by systemd-journal-remote): -accounts
// normal accounts sending multi-recipient mail, 1–2 % of their recipients
// bouncing, deferrals and greylisting that later succeed, 2 % of their
// messages refused as a whole at end of DATA (DMARC, size, content), 10 %
// of them with recipients rewritten by the smarthost (orig_to), messages
// expiring with one recipient undelivered (newsletters of 15 recipients
// among them, rewritten or refused by DMARC as a whole), a log rotation by
// rename at noon with a writer that keeps writing to the renamed file for
// half an hour; and 3 compromised accounts mailing lists with 30 % dead
// addresses. Every message is admitted to the store as milterd would at
// end-of-message, before its log lines are written.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

const (
	host      = "mx1"
	threshold = 10 // undeliverable_per_hour, the shipped default
	refusedAt = 20 // refused_messages_per_hour, the shipped default
)

var compromised = []string{"hacked1@customer.test", "hacked2@customer.test", "hacked3@customer.test"}

// event is one moment of the simulated day: a message admitted (admit),
// then log lines.
type event struct {
	at    time.Time
	admit *limits.Sent
	key   string
	lines []string
	cross string // the compromised account whose threshold this line crosses
}

// Result is what one store's replay measured.
type Result struct {
	Store    string
	Source   string // file or journal
	Lines    int
	Messages int
	False    []string                 // suspended accounts that were not compromised
	Delay    map[string]time.Duration // per compromised account; missing: not suspended
}

func main() {
	accounts := flag.Int("accounts", 1000, "normal accounts")
	seconds := flag.Float64("seconds", 60, "real seconds the simulated day is played in")
	seed := flag.Uint64("seed", 1, "random seed")
	only := flag.String("only", "", "replay one variant only: STORE/SOURCE, e.g. postgres/file")
	flag.Parse()
	p := &harness.Program{Name: "replay"}
	defer p.Close()
	fmt.Printf("Replay of a simulated day: %d accounts + %d compromised, played in %.0f s, follower poll 200 ms\n\n", *accounts, len(compromised), *seconds)
	fmt.Println("| store | source | log lines | messages | false suspensions | delay hacked1 | delay hacked2 | delay hacked3 |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	ok := true
	for _, v := range variants {
		if *only != "" && *only != v.store+"/"+v.source {
			continue
		}
		r := Run(p, v.store, v.source, *accounts, time.Duration(*seconds*float64(time.Second)), *seed)
		row := fmt.Sprintf("| %s | %s | %d | %d | %d %v |", r.Store, r.Source, r.Lines, r.Messages, len(r.False), r.False)
		for _, a := range compromised {
			if d, found := r.Delay[a]; found {
				row += fmt.Sprintf(" %.0f ms |", float64(d.Microseconds())/1000)
			} else {
				row += " not suspended |"
				ok = false
			}
		}
		fmt.Println(row)
		ok = ok && len(r.False) == 0
	}
	ok = spreadTable(p, *accounts, *seed) && ok
	if !ok {
		os.Exit(1)
	}
}

// variants are the stores and log sources replayed.
var variants = []struct{ store, source string }{
	{"sqlite", "file"}, {"redis", "file"}, {"postgres", "file"}, {"sqlite", "journal"},
}

// Run replays the day on one store, from a log file or the journal.
func Run(t harness.T, kind, source string, accounts int, real time.Duration, seed uint64) Result {
	dir := harness.Dir(t, "replay")
	var st limits.Store
	var err error
	switch kind {
	// The log's times are not the store's clock, by which PostgreSQL's
	// schema 13 and Redis' admit scripts judge a slot's roll
	// (limits/clock.go): the check is off here.
	case "redis":
		st, err = limits.OpenRedisOptions(context.Background(), limits.RedisOptions{Addr: harness.StartRedis(t).Addr, MaxClockSkew: -1})
	case "postgres":
		st, err = limits.OpenPostgres(context.Background(), harness.StartPostgres(t).DSN+" outguard.max_clock_skew=0")
	default:
		st, err = limits.OpenSQLite(filepath.Join(dir, "state.db"))
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer st.Close()

	end := time.Now().Truncate(time.Second)
	start := end.Add(-24 * time.Hour)
	evs := day(rand.New(rand.NewPCG(seed, 2)), accounts, start)
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000, UndeliverablePerHour: threshold, RefusedMessagesPerHour: refusedAt}, nil)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng := &limits.Engine{Store: st, Policy: pol, Accounts: limits.Accounts{Host: host}, Log: log, Now: time.Now}

	w := newWriter(t, dir, source)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	follower := &limits.Follower{Source: source, Path: w.path, PosFile: filepath.Join(dir, "pos"), FromStart: true, Engine: eng, Log: log, RenameQuiet: 2 * time.Second}
	wg.Go(func() { follower.Run(ctx) })
	// The watcher: when does each compromised account's suspension appear?
	var mu sync.Mutex
	crossed := map[string]time.Time{}
	res := Result{Store: kind, Source: source, Delay: map[string]time.Duration{}}
	wg.Go(func() {
		for ctx.Err() == nil {
			mu.Lock()
			pending := map[string]time.Time{}
			for a, t0 := range crossed {
				if _, done := res.Delay[a]; !done {
					pending[a] = t0
				}
			}
			mu.Unlock()
			for a, t0 := range pending {
				if _, s, err := st.Usage(ctx, a, time.Now()); err == nil && s != nil {
					mu.Lock()
					res.Delay[a] = time.Since(t0)
					mu.Unlock()
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	scale := float64(real) / float64(24*time.Hour)
	began := time.Now()
	for _, e := range evs {
		if wait := time.Duration(float64(e.at.Sub(start))*scale) - time.Since(began); wait > 0 {
			time.Sleep(wait)
		}
		w.at(e.at.Sub(start))
		if e.admit != nil {
			if _, ok, err := st.Admit(ctx, e.key, *e.admit, pol.For(e.key), e.at); err != nil {
				t.Fatalf("admit: %v", err)
			} else if !ok {
				continue // over a limit: milterd would have refused it, nothing is logged
			}
			res.Messages++
		}
		for _, l := range e.lines {
			w.write(e.at, l)
			res.Lines++
		}
		if e.cross != "" {
			mu.Lock()
			if _, seen := crossed[e.cross]; !seen {
				crossed[e.cross] = time.Now()
			}
			mu.Unlock()
		}
	}
	// Let the follower finish the log (its saved position reaches the
	// end), then take the last suspensions and stop.
	last := w.close()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "pos")); err == nil && string(b) == last {
			break
		}
	}
	time.Sleep(100 * time.Millisecond) // the watcher's last look
	cancel()
	wg.Wait()
	susp, err := st.Suspensions(context.Background())
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, s := range susp {
		if !isCompromised(s.Key) {
			res.False = append(res.False, s.Key)
		} else if _, seen := res.Delay[s.Key]; !seen { // after the watcher stopped
			res.Delay[s.Key] = time.Since(crossed[s.Key])
		}
	}
	return res
}

func isCompromised(a string) bool {
	for _, c := range compromised {
		if a == c {
			return true
		}
	}
	return false
}

// writer writes the simulated log: to a file, renamed at noon while the
// writer goes on writing to the renamed file for half an hour (rsyslog
// before its HUP), or to a journal.
type writer struct {
	source, path string
	f            *os.File
	renamed      bool // at noon
	reopened     bool // half an hour later
	j            *harness.Journal
	last         string // the last message written to the journal
	t            harness.T
}

func newWriter(t harness.T, dir, source string) *writer {
	w := &writer{source: source, t: t}
	if source == "journal" {
		w.j = harness.StartJournal(t)
		w.path = w.j.Dir
		return w
	}
	w.path = filepath.Join(dir, "mail.log")
	var err error
	if w.f, err = os.Create(w.path); err != nil {
		t.Fatalf("%v", err)
	}
	return w
}

// at is the simulated time of day: logrotate at noon, the writer's
// reopening half an hour later.
func (w *writer) at(d time.Duration) {
	if w.f == nil {
		return
	}
	if !w.renamed && d >= 12*time.Hour {
		os.Rename(w.path, w.path+".1")
		if f, err := os.Create(w.path); err == nil { // logrotate's create
			f.Close()
		}
		w.renamed = true
	}
	if w.renamed && !w.reopened && d >= 12*time.Hour+30*time.Minute {
		w.f.Close()
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			w.t.Fatalf("%v", err)
		}
		w.f, w.reopened = f, true
	}
}

func (w *writer) write(at time.Time, line string) {
	if w.j == nil {
		w.f.WriteString(line)
		return
	}
	if ident, pid, msg, ok := harness.ParseSyslog(strings.TrimRight(line, "\n")); ok {
		w.j.WriteAt(at, ident, pid, msg)
		w.last = msg
	}
}

// close ends the log and returns what the follower's position file says
// once it has read all of it.
func (w *writer) close() string {
	if w.j == nil {
		fi, _ := w.f.Stat()
		w.f.Close()
		var st syscall.Stat_t
		syscall.Stat(w.path, &st)
		return fmt.Sprintf("%d %d\n", st.Ino, fi.Size())
	}
	// The journal's last entry, once systemd-journal-remote has written it.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("journalctl", "--directory", w.path, "-n", "1", "-o", "export").Output()
		if !strings.Contains(string(out), "\nMESSAGE="+w.last+"\n") {
			continue
		}
		for _, l := range strings.Split(string(out), "\n") {
			if c, ok := strings.CutPrefix(l, "__CURSOR="); ok {
				return "cursor " + c + "\n"
			}
		}
	}
	return ""
}

// day generates the simulated day's events, in time order.
func day(r *rand.Rand, accounts int, start time.Time) []event {
	var evs []event
	qid := 0
	line := func(at time.Time, proc, q, rest string) string {
		return fmt.Sprintf("%s %s postfix/%s[%d]: %s: %s\n", at.Format(time.RFC3339), host, proc, 1000+r.IntN(9000), q, rest)
	}
	// message builds one message's events; outcome per recipient: 's' sent,
	// 'b' bounced, 'd' deferred then sent, 'g' greylisted then sent, 'x'
	// deferred until it expires, 'r' refused with the whole message at
	// end of DATA (every recipient of it 'r'). rewrite: the smarthost
	// rewrites each recipient, logged as to=<new>, orig_to=<as sent>.
	refusals := []string{
		"dsn=5.7.26, status=bounced (host mx.remote.test[192.0.2.25] said: 550 5.7.26 Unauthenticated email from customer.test is not accepted due to domain's DMARC policy (in reply to end of DATA command))",
		"dsn=5.3.4, status=bounced (host mx.remote.test[192.0.2.25] said: 552 5.3.4 Message size exceeds fixed maximum message size (in reply to end of DATA command))",
		"dsn=5.7.1, status=bounced (host mx.remote.test[192.0.2.25] said: 554 5.7.1 Message content rejected (in reply to end of DATA command))",
	}
	message := func(acct string, at time.Time, rcpts []string, outcome []byte, rewrite bool) []event {
		qid++
		q := fmt.Sprintf("4Z%010X", qid)
		out := []event{{at: at, key: acct, admit: &limits.Sent{Host: host, QueueID: q, Rcpts: rcpts, Time: at}, lines: []string{
			line(at, "smtpd", q, "client=dsl.example.net[203.0.113.7], sasl_method=PLAIN, sasl_username="+acct),
			line(at, "qmgr", q, fmt.Sprintf("from=<%s>, size=4242, nrcpt=%d (queue active)", acct, len(rcpts))),
		}}}
		to := func(rc string) string {
			if rewrite {
				return "to=<" + strings.Replace(rc, "@", ".", 1) + "@mailhost.isp.test>, orig_to=<" + rc + ">"
			}
			return "to=<" + rc + ">"
		}
		first := at.Add(time.Duration(1+r.IntN(3)) * time.Second)
		refusal := refusals[r.IntN(len(refusals))]
		expires := false
		var firstLines []string
		for i, rc := range rcpts {
			switch outcome[i] {
			case 's':
				firstLines = append(firstLines, line(first, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=2.0.0, status=sent (250 2.0.0 ok)"))
			case 'b':
				firstLines = append(firstLines, line(first, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=5.1.1, status=bounced (host mx.remote.test[192.0.2.25] said: 550 5.1.1 no such user (in reply to RCPT TO command))"))
			case 'r':
				firstLines = append(firstLines, line(first, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=1, "+refusal))
			case 'g':
				firstLines = append(firstLines, line(first, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=4.7.1, status=deferred (host mx.remote.test[192.0.2.25] said: 450 4.7.1 <"+rc+">: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/ (in reply to RCPT TO command))"))
				later := first.Add(time.Duration(5+r.IntN(10)) * time.Minute)
				out = append(out, event{at: later, lines: []string{line(later, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=600, dsn=2.0.0, status=sent (250 2.0.0 ok)")}})
			case 'd', 'x':
				firstLines = append(firstLines, line(first, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=4.2.0, status=deferred (host mx.remote.test[192.0.2.25] said: 450 4.2.0 mailbox busy (in reply to RCPT TO command))"))
				if outcome[i] == 'd' {
					later := first.Add(time.Duration(10+r.IntN(50)) * time.Minute)
					out = append(out, event{at: later, lines: []string{line(later, "smtp", q, to(rc)+", relay=mx.remote.test[192.0.2.25]:25, delay=900, dsn=2.0.0, status=sent (250 2.0.0 ok)")}})
				} else {
					expires = true
				}
			}
		}
		out = append(out, event{at: first, lines: firstLines})
		if expires { // a short maximal_queue_lifetime: 2 to 4 hours
			exp := first.Add(time.Duration(120+r.IntN(120)) * time.Minute)
			out = append(out, event{at: exp, lines: []string{line(exp, "qmgr", q, "from=<"+acct+">, status=expired, returned to sender")}})
		}
		return out
	}
	rcptList := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("contact%d@remote%d.test", r.IntN(100000), r.IntN(50))
		}
		return out
	}
	for a := range accounts {
		acct := fmt.Sprintf("user%d@customer.test", a)
		for range 5 + r.IntN(40) { // 5–45 messages a day
			at := start.Add(time.Duration(r.Int64N(int64(23 * time.Hour))))
			n := 1 + r.IntN(4)
			if r.IntN(10) == 0 {
				n = 5 + r.IntN(15)
			}
			rcpts := rcptList(n)
			outcome := make([]byte, n)
			refused := r.IntN(50) == 0 // 2 %: refused as a whole at end of DATA
			for i := range outcome {
				switch x := r.IntN(1000); {
				case refused:
					outcome[i] = 'r'
				case x < 15: // 1.5 % bounce
					outcome[i] = 'b'
				case x < 35:
					outcome[i] = 'd'
				case x < 45:
					outcome[i] = 'g'
				case x < 48:
					outcome[i] = 'x'
				default:
					outcome[i] = 's'
				}
			}
			evs = append(evs, message(acct, at, rcpts, outcome, r.IntN(10) == 0)...)
		}
		// One account in twenty sends three newsletters of 15 within an
		// hour, one recipient of each expiring, the smarthost rewriting
		// every recipient: 3 undeliverable, not 45; and one newsletter of
		// 15 refused as a whole for DMARC: 1 refused message, not 15
		// undeliverable recipients.
		if a%20 == 0 {
			at := start.Add(time.Duration(r.Int64N(int64(18 * time.Hour))))
			for i := range 3 {
				outcome := []byte("sssssssssssssss")
				outcome[r.IntN(15)] = 'x'
				evs = append(evs, message(acct, at.Add(time.Duration(i)*10*time.Minute), rcptList(15), outcome, true)...)
			}
			evs = append(evs, message(acct, at.Add(40*time.Minute), rcptList(15), []byte("rrrrrrrrrrrrrrr"), false)...)
		}
		// One account in fifty has a domain whose DMARC policy its mail
		// fails: 10 messages within an hour all refused, under the
		// threshold of 20.
		if a%50 == 7 {
			at := start.Add(time.Duration(r.Int64N(int64(20 * time.Hour))))
			for i := range 10 {
				evs = append(evs, message(acct, at.Add(time.Duration(i)*5*time.Minute), rcptList(1+r.IntN(3)), []byte("rrrr"), false)...)
			}
		}
	}
	// The compromised accounts: from 6:00, 11:50 (across the rotation) and
	// 18:00, a message a minute to 20 list addresses, 30 % of them dead.
	for i, acct := range compromised {
		at := start.Add([]time.Duration{6 * time.Hour, 11*time.Hour + 50*time.Minute, 18 * time.Hour}[i])
		for m := range 20 {
			outcome := make([]byte, 20)
			for j := range outcome {
				outcome[j] = 's'
				if r.IntN(10) < 3 {
					outcome[j] = 'b'
				}
			}
			evs = append(evs, message(acct, at.Add(time.Duration(m)*time.Minute), rcptList(20), outcome, false)...)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	markCrossings(evs)
	return evs
}

// markCrossings finds, per compromised account, the line whose bounce is
// the threshold-th within an hour: from then on the account should be
// suspended.
func markCrossings(evs []event) {
	owner := map[string]string{} // queue id -> account
	bounces := map[string][]time.Time{}
	done := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		if e.admit != nil {
			owner[e.admit.QueueID] = e.key
		}
		for _, l := range e.lines {
			acct := owner[strings.TrimSuffix(strings.Fields(l)[3], ":")]
			if !isCompromised(acct) || done[acct] || !strings.Contains(l, "status=bounced") {
				continue
			}
			recent := []time.Time{e.at}
			for _, t := range bounces[acct] {
				if e.at.Sub(t) < time.Hour {
					recent = append(recent, t)
				}
			}
			bounces[acct] = recent
			if len(recent) >= threshold {
				e.cross, done[acct] = acct, true
			}
		}
	}
}
