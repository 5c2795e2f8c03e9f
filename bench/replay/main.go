// Command replay measures the abuse desk's two numbers for automatic
// suspension: false suspensions (goal 0), and how long after the log line
// that crosses a compromised account's threshold its suspension is in the
// store (goal ≤ 1 s).
//
// It writes a realistic Postfix log of a simulated day, compressed into
// -seconds of real time, and runs the real follower and store over it
// (SQLite, and Redis on a redis-server it starts): -accounts normal
// accounts sending multi-recipient mail, 1–2 % of their recipients
// bouncing, deferrals that later succeed, messages expiring with one
// recipient undelivered (newsletters of 15 recipients among them), a log
// rotation at noon; and 3 compromised accounts mailing lists with 30 %
// dead addresses. Every message is admitted to the store as milterd would
// at end-of-message, before its log lines are written.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
)

const (
	host      = "mx1"
	threshold = 10 // undeliverable_per_hour, the shipped default
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
	Lines    int
	Messages int
	False    []string                 // suspended accounts that were not compromised
	Delay    map[string]time.Duration // per compromised account; missing: not suspended
}

func main() {
	accounts := flag.Int("accounts", 1000, "normal accounts")
	seconds := flag.Float64("seconds", 60, "real seconds the simulated day is played in")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	p := &harness.Program{Name: "replay"}
	defer p.Close()
	fmt.Printf("Replay of a simulated day: %d accounts + %d compromised, played in %.0f s, follower poll 200 ms\n\n", *accounts, len(compromised), *seconds)
	fmt.Println("| store | log lines | messages | false suspensions | delay hacked1 | delay hacked2 | delay hacked3 |")
	fmt.Println("|---|---|---|---|---|---|---|")
	ok := true
	for _, kind := range []string{"sqlite", "redis"} {
		r := Run(p, kind, *accounts, time.Duration(*seconds*float64(time.Second)), *seed)
		row := fmt.Sprintf("| %s | %d | %d | %d %v |", r.Store, r.Lines, r.Messages, len(r.False), r.False)
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

// Run replays the day on one store.
func Run(t harness.T, kind string, accounts int, real time.Duration, seed uint64) Result {
	dir := harness.Dir(t, "replay")
	var st limits.Store
	var err error
	if kind == "redis" {
		st, err = limits.OpenRedis(context.Background(), harness.StartRedis(t).Addr)
	} else {
		st, err = limits.OpenSQLite(filepath.Join(dir, "state.db"))
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer st.Close()

	end := time.Now().Truncate(time.Second)
	start := end.Add(-24 * time.Hour)
	evs := day(rand.New(rand.NewPCG(seed, 2)), accounts, start)
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000, UndeliverablePerHour: threshold}, nil)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng := &limits.Engine{Store: st, Policy: pol, Accounts: limits.Accounts{Host: host}, Log: log, Now: time.Now}

	path := filepath.Join(dir, "mail.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		(&limits.Follower{Path: path, PosFile: filepath.Join(dir, "pos"), FromStart: true, Engine: eng, Log: log}).Run(ctx)
	})
	// The watcher: when does each compromised account's suspension appear?
	var mu sync.Mutex
	crossed := map[string]time.Time{}
	res := Result{Store: kind, Delay: map[string]time.Duration{}}
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
	rotated := false
	for _, e := range evs {
		if wait := time.Duration(float64(e.at.Sub(start))*scale) - time.Since(began); wait > 0 {
			time.Sleep(wait)
		}
		if !rotated && e.at.Sub(start) >= 12*time.Hour { // logrotate at noon: rename and create
			f.Close()
			os.Rename(path, path+".1")
			if f, err = os.Create(path); err != nil {
				t.Fatalf("%v", err)
			}
			rotated = true
		}
		if e.admit != nil {
			if _, ok, err := st.Admit(ctx, e.key, *e.admit, pol.For(e.key), e.at); err != nil {
				t.Fatalf("admit: %v", err)
			} else if !ok {
				continue // over a limit: milterd would have refused it, nothing is logged
			}
			res.Messages++
		}
		for _, l := range e.lines {
			f.WriteString(l)
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
	f.Close()
	size := int64(-1)
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ino, off int64
		if b, err := os.ReadFile(filepath.Join(dir, "pos")); err == nil {
			fmt.Sscanf(string(b), "%d %d", &ino, &off)
		}
		if off == size {
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

// day generates the simulated day's events, in time order.
func day(r *rand.Rand, accounts int, start time.Time) []event {
	var evs []event
	qid := 0
	line := func(at time.Time, proc, q, rest string) string {
		return fmt.Sprintf("%s %s postfix/%s[%d]: %s: %s\n", at.Format(time.RFC3339), host, proc, 1000+r.IntN(9000), q, rest)
	}
	// message builds one message's events; outcome per recipient: 's' sent,
	// 'b' bounced, 'd' deferred then sent, 'x' deferred until it expires.
	message := func(acct string, at time.Time, rcpts []string, outcome []byte) []event {
		qid++
		q := fmt.Sprintf("4Z%010X", qid)
		out := []event{{at: at, key: acct, admit: &limits.Sent{Host: host, QueueID: q, Rcpts: rcpts, Time: at}, lines: []string{
			line(at, "smtpd", q, "client=dsl.example.net[203.0.113.7], sasl_method=PLAIN, sasl_username="+acct),
			line(at, "qmgr", q, fmt.Sprintf("from=<%s>, size=4242, nrcpt=%d (queue active)", acct, len(rcpts))),
		}}}
		first := at.Add(time.Duration(1+r.IntN(3)) * time.Second)
		expires := false
		var firstLines []string
		for i, rc := range rcpts {
			switch outcome[i] {
			case 's':
				firstLines = append(firstLines, line(first, "smtp", q, "to=<"+rc+">, relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=2.0.0, status=sent (250 2.0.0 ok)"))
			case 'b':
				firstLines = append(firstLines, line(first, "smtp", q, "to=<"+rc+">, relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=5.1.1, status=bounced (host mx.remote.test[192.0.2.25] said: 550 5.1.1 no such user (in reply to RCPT TO command))"))
			case 'd', 'x':
				firstLines = append(firstLines, line(first, "smtp", q, "to=<"+rc+">, relay=mx.remote.test[192.0.2.25]:25, delay=1, dsn=4.2.0, status=deferred (host mx.remote.test[192.0.2.25] said: 450 4.2.0 mailbox busy (in reply to RCPT TO command))"))
				if outcome[i] == 'd' {
					later := first.Add(time.Duration(10+r.IntN(50)) * time.Minute)
					out = append(out, event{at: later, lines: []string{line(later, "smtp", q, "to=<"+rc+">, relay=mx.remote.test[192.0.2.25]:25, delay=900, dsn=2.0.0, status=sent (250 2.0.0 ok)")}})
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
			for i := range outcome {
				switch x := r.IntN(1000); {
				case x < 15: // 1.5 % bounce
					outcome[i] = 'b'
				case x < 35:
					outcome[i] = 'd'
				case x < 38:
					outcome[i] = 'x'
				default:
					outcome[i] = 's'
				}
			}
			evs = append(evs, message(acct, at, rcpts, outcome)...)
		}
		// One account in twenty sends three newsletters of 15 within an
		// hour, one recipient of each expiring: 3 undeliverable, not 45.
		if a%20 == 0 {
			at := start.Add(time.Duration(r.Int64N(int64(18 * time.Hour))))
			for i := range 3 {
				outcome := []byte("sssssssssssssss")
				outcome[r.IntN(15)] = 'x'
				evs = append(evs, message(acct, at.Add(time.Duration(i)*10*time.Minute), rcptList(15), outcome)...)
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
			evs = append(evs, message(acct, at.Add(time.Duration(m)*time.Minute), rcptList(20), outcome)...)
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
