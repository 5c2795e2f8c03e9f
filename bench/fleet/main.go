// Command fleet simulates a fleet of smarthosts sharing one limits store:
// N clients, each a milterd's limits engine (the real limits.Engine on
// its own connection pool, driven stage by stage as the milter glue
// drives it, without an MTA) with a few sessions at once, against one
// PostgreSQL and one Redis (started here by the test harness), and the
// same clients on one SQLite file as the same run's baseline.
//
// The day: -accounts accounts whose sending is Zipf-distributed (a few
// bulk senders, a long tail sending a message now and then), -messages
// messages spread over a simulated day (message i of n is sent at i/n of
// it: every stage of a message sees that time), 1–3 recipients each, each login from
// one of its account's networks, 0.5 % classed as spam. The limits are the
// shipped defaults, so the busiest accounts reach them.
//
// It reports, per store and number of clients, checks (messages) per
// second, p50 and p99 of each stage's store work (MAIL: BeginMessage;
// end-of-message: CheckMessage, the spam count and Commit), the store's
// size per active account, and exactness: from the log of every admitted
// message, every window of every account (60 consecutive minute buckets,
// 24 hour buckets, as the store counts) is checked against its limits,
// and the store's own count at the end against the log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
	"outguard/policy"
)

// Options of one run.
type Options struct {
	Accounts int
	Messages int // over the simulated day
	Clients  int
	Sessions int // per client, at once
	Seed     uint64
	// Span is the simulated time the messages are spread over (0: a
	// day); a shorter one concentrates them, so that a small run reaches
	// the limits too.
	Span time.Duration
	// StoreTimeout bounds each store call as limits.Engine.Timeout does
	// in milterd (0: 10 s, milterd's). The short form under make test
	// raises it: four SQLite writers on one file under the race detector,
	// beside the rest of the suite, can wait longer than that for the
	// file's lock, and a timeout there would fail exactness, not measure it.
	StoreTimeout time.Duration
	// Rate paces the run at this many messages a second across the fleet
	// (0: as fast as the sessions go). A closed loop of more sessions than
	// cores measures queueing for a core; a paced one measures the
	// latency at a given load, e.g. the 1 000 msg/s of the paper fleet.
	Rate float64
}

// Stores are the servers a run uses: one PostgreSQL, one Redis, and a
// directory for SQLite files.
type Stores struct {
	PG    *harness.Postgres
	Redis *harness.Redis
	Dir   string
	n     atomic.Int64
	// NoSync is a second PostgreSQL with fsync off, for the store
	// "postgres-fsync-off": what the server costs without the WAL's
	// flush (a disk whose flush is nearly free, or SQLite's durability).
	t       harness.T
	noSync  *harness.Postgres
	profile bool   // the servers collect statistics: Result.Profile
	dsn     string // of the last PostgreSQL database opened
}

// StartStores starts the servers, stopped at t's cleanup. PostgreSQL runs
// with fsync on, as in production.
func StartStores(t harness.T) *Stores {
	return &Stores{PG: harness.StartPostgres(t, "fsync=on"), Redis: harness.StartRedis(t), Dir: harness.Dir(t, "fleet"), t: t}
}

// startProfiledStores is StartStores with PostgreSQL's statistics on
// (profileSettings): each run on it reports its server side.
func startProfiledStores(t harness.T) *Stores {
	return &Stores{PG: harness.StartPostgres(t, append([]string{"fsync=on"}, profileSettings...)...), Redis: harness.StartRedis(t), Dir: harness.Dir(t, "fleet"), t: t, profile: true}
}

// Result is what one run measured.
type Result struct {
	Store                       string
	Clients                     int
	Messages, Admitted, Refused int
	// SkewRefused of Refused failed with limits.ErrClockSkew: a session
	// whose store call waited while the others sent an hour or more of
	// the compressed day (a simulated clock that far behind theirs).
	SkewRefused int
	// Late counts the messages of a paced run (Options.Rate) that
	// started more than lateBy after their time: the rate was beyond
	// what the sessions could keep, and the latencies understate.
	Late             int
	Seconds          float64
	MailP50, MailP99 time.Duration
	EOMP50, EOMP99   time.Duration
	Active           int // accounts that sent
	Size             Size
	// CPU per message checked (ms): the clients' (this process: the
	// engines, the drivers) and the store server's (PostgreSQL's
	// processes, redis-server; none for SQLite, which runs in the
	// clients).
	ClientCPU, ServerCPU          float64
	OverAdmits, CountMismatches   int
	WindowsChecked, CountsChecked int
	Profile                       string // the server side (pgProfile), in a -profile run on PostgreSQL
}

// ChecksPerSecond are messages checked (both stages) per second.
func (r Result) ChecksPerSecond() float64 { return float64(r.Messages) / r.Seconds }

var lim = func() limits.Limits {
	var l limits.Limits
	for _, k := range limits.Kinds {
		*k.Field(&l) = k.Default
	}
	return l
}()

// sent is one admitted message, for the recount.
type sent struct {
	key   int
	at    time.Time
	rcpts int
}

// plan is the day's messages: who sends, with how many recipients, from
// which network, classed as spam or not. Every run of a seed sends the
// same day.
type plan struct {
	acct  []int32
	rcpts []uint8
	net   []uint8
	spam  []bool
}

func makePlan(o Options) plan {
	r := rand.New(rand.NewPCG(o.Seed, 32))
	z := rand.NewZipf(r, 1.1, 1, uint64(o.Accounts-1))
	// Zipf's rank 0 is the busiest: spread the ranks over the account
	// numbers, so that busy accounts are not neighbours in any index.
	perm := r.Perm(o.Accounts)
	p := plan{make([]int32, o.Messages), make([]uint8, o.Messages), make([]uint8, o.Messages), make([]bool, o.Messages)}
	for i := range o.Messages {
		p.acct[i] = int32(perm[z.Uint64()])
		p.rcpts[i] = uint8(1 + r.IntN(3))
		p.net[i] = uint8(r.IntN(2))
		p.spam[i] = r.IntN(200) == 0
	}
	return p
}

func account(i int) string { return fmt.Sprintf("user%06d@customer.test", i) }

// Size is what a store holds after a run: per account that sent (its
// counters and sightings) and per message admitted (its record, kept 7
// days for the log follower), in bytes, with the details.
type Size struct {
	PerAccount, PerMessage float64
	Detail                 string
}

// open returns a fresh, empty store of kind for n clients (each its own
// handle: its own connections), and how to measure its size after a run
// of active accounts and admitted messages.
func (s *Stores) open(ctx context.Context, kind string, n int) ([]limits.Store, func(active, admitted int) Size, func() float64, error) {
	id := s.n.Add(1)
	var open func() (limits.Store, error)
	var size func(active, admitted int) Size
	serverCPU := func() float64 { return 0 }
	switch kind {
	case "sqlite":
		path := filepath.Join(s.Dir, fmt.Sprint("state", id, ".db"))
		open = func() (limits.Store, error) { return limits.OpenSQLite(path) }
		size = func(active, _ int) Size {
			var total int64
			for _, suf := range []string{"", "-wal"} {
				if fi, err := os.Stat(path + suf); err == nil {
					total += fi.Size()
				}
			}
			return Size{PerAccount: float64(total) / float64(active), Detail: fmt.Sprintf("file and WAL %.1f MiB (all per account)", float64(total)/(1<<20))}
		}
	case "postgres", "postgres-sync", "postgres-fsync-off":
		pg := s.PG
		if kind == "postgres-fsync-off" {
			if s.noSync == nil {
				s.noSync = harness.StartPostgres(s.t)
			}
			pg = s.noSync
		}
		db := fmt.Sprint("fleet", id)
		pg.SQL("postgres", "CREATE DATABASE "+db)
		// The simulated day runs thousands of times faster than the
		// store's clock, by which schema 13 judges a slot's roll (clock.go):
		// the check is off here, as it would refuse every roll.
		dsn := pg.DSNFor("postgres", db) + " pool_max_conns=10 outguard.max_clock_skew=0"
		if kind == "postgres-sync" {
			// og_admit waiting for the WAL's flush, as before schema 11
			// (docs/postgres.md, "Durability").
			dsn += " outguard.synchronous_commit=on"
		}
		open = func() (limits.Store, error) { return limits.OpenPostgres(ctx, dsn) }
		s.dsn = dsn
		wal0 := walLSN(ctx, dsn)
		size = func(active, admitted int) Size {
			wal := float64(walLSN(ctx, dsn)-wal0) / float64(admitted) // before pgSize's VACUUM
			sz := pgSize(ctx, dsn, active, admitted)
			sz.Detail += fmt.Sprintf("; WAL %.0f B per message admitted", wal)
			return sz
		}
		serverCPU = func() float64 { return pgCPU(pg.Dir) }
	case "redis":
		c := redis.NewClient(&redis.Options{Addr: s.Redis.Addr})
		defer c.Close()
		if err := c.FlushAll(ctx).Err(); err != nil {
			return nil, nil, nil, err
		}
		// The check by the store's clock off, as for PostgreSQL above.
		open = func() (limits.Store, error) {
			return limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: s.Redis.Addr, MaxClockSkew: -1})
		}
		size = func(active, admitted int) Size { return redisSize(ctx, s.Redis.Addr, active, admitted) }
		serverCPU = func() float64 { return redisCPU(ctx, s.Redis.Addr) }
	default:
		return nil, nil, nil, fmt.Errorf("unknown store %q", kind)
	}
	sts := make([]limits.Store, n)
	for i := range sts {
		st, err := open()
		if err != nil {
			return nil, nil, nil, err
		}
		sts[i] = st
	}
	return sts, size, serverCPU, nil
}

// pgCPU is the CPU time (ms) of the PostgreSQL server in dir so far: the
// postmaster's (with its reaped children's) and its running children's.
func pgCPU(dir string) float64 {
	pid, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	master, _ := strconv.Atoi(strings.SplitN(string(pid), "\n", 2)[0])
	total := procCPU(master, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if child, err := strconv.Atoi(e.Name()); err == nil && procParent(child) == master {
			total += procCPU(child, false)
		}
	}
	return total
}

// procStat is /proc/PID/stat's fields after the command's ')'.
func procStat(pid int) []string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		return nil
	}
	return strings.Fields(rest)
}

func procParent(pid int) int {
	f := procStat(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procCPU is a process's user and system time (ms), with its reaped
// children's when reaped is set.
func procCPU(pid int, reaped bool) float64 {
	f := procStat(pid)
	if len(f) < 15 {
		return 0
	}
	fields := f[11:13] // utime, stime
	if reaped {
		fields = f[11:15] // and cutime, cstime
	}
	var ticks float64
	for _, v := range fields {
		n, _ := strconv.ParseFloat(v, 64)
		ticks += n
	}
	return ticks * 10 // USER_HZ = 100
}

// redisCPU is redis-server's CPU time (ms) so far (INFO cpu).
func redisCPU(ctx context.Context, addr string) float64 {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, l := range strings.Split(info, "\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), k); ok {
				x, _ := strconv.ParseFloat(v, 64)
				total += x * 1000
			}
		}
	}
	return total
}

// selfCPU is this process's CPU time (ms) so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// walLSN is the server's WAL position (bytes): how much it has written.
func walLSN(ctx context.Context, dsn string) int64 {
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int64
	db.QueryRowContext(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::BIGINT`).Scan(&n)
	return n
}

// pgSize is the limits tables' size (rows, indexes, TOAST:
// pg_total_relation_size) after a VACUUM: counters and sightings per
// active account, msgs per message.
func pgSize(ctx context.Context, dsn string, active, admitted int) Size {
	db, err := sqldb.OpenPostgres(dsn)
	if err != nil {
		return Size{Detail: err.Error()}
	}
	defer db.Close()
	db.ExecContext(ctx, `VACUUM ANALYZE`) // dead row versions of the upserts are not what an account costs
	rel := map[string]int64{}
	for _, tb := range []string{"counters", "sightings", "msgs"} {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT pg_total_relation_size($1)`, tb).Scan(&n); err != nil {
			return Size{Detail: err.Error()}
		}
		rel[tb] = n
	}
	var dbSize int64
	db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&dbSize)
	return Size{
		PerAccount: float64(rel["counters"]+rel["sightings"]) / float64(active),
		PerMessage: float64(rel["msgs"]) / float64(admitted),
		Detail: fmt.Sprintf("counters %.0f B, sightings %.0f B per account; database %.1f MiB", float64(rel["counters"])/float64(active),
			float64(rel["sightings"])/float64(active), float64(dbSize)/(1<<20)),
	}
}

// redisSize estimates each kind of key's memory (MEMORY USAGE of up to
// 2000 of them, times their number): og:c, og:sig, og:sigv per active
// account, og:msg per message; with INFO memory's used_memory.
func redisSize(ctx context.Context, addr string, active, admitted int) Size {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return Size{Detail: err.Error()}
	}
	total := map[string]float64{}
	for _, prefix := range []string{"og:c:", "og:msg:", "og:sig:", "og:sigv:"} {
		var n, sampled, sum int64
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			n++
			if sampled < 2000 {
				sampled++
				sum += c.MemoryUsage(ctx, it.Val()).Val()
			}
		}
		if sampled > 0 {
			total[prefix] = float64(sum) / float64(sampled) * float64(n)
		}
	}
	acct := total["og:c:"] + total["og:sig:"] + total["og:sigv:"]
	return Size{
		PerAccount: acct / float64(active),
		PerMessage: total["og:msg:"] / float64(admitted),
		Detail: fmt.Sprintf("counters %.0f B, sightings %.0f B per account; used_memory %.1f MiB", total["og:c:"]/float64(active),
			(total["og:sig:"]+total["og:sigv:"])/float64(active), float64(infoField(info, "used_memory"))/(1<<20)),
	}
}

func infoField(info, name string) int64 {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// Run plays the day of o against a fresh store of kind.
func Run(ctx context.Context, s *Stores, kind string, o Options) (Result, error) {
	sts, size, serverCPU, err := s.open(ctx, kind, o.Clients)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		for _, st := range sts {
			st.Close()
		}
	}()
	p := makePlan(o)
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var issued atomic.Int64
	// The simulated clock: message i is sent at the day's share i of its
	// messages, and every stage of it sees that time (each session's
	// engine has its own clock), so that the recount puts it in the
	// buckets the store did.
	span := o.Span
	if span == 0 {
		span = 24 * time.Hour
	}
	sentAt := func(i int) time.Time { return day.Add(time.Duration(i) * span / time.Duration(o.Messages)) }
	pol, err := limits.NewPolicy(lim, nil)
	if err != nil {
		return Result{}, err
	}
	log := slog.New(slog.DiscardHandler)
	type session struct {
		mail, eom []time.Duration
		sent      []sent
		refused   int
		skew      int
		late      int
		err       error
	}
	sessions := make([]*session, o.Clients*o.Sessions)
	storeTimeout := o.StoreTimeout
	if storeTimeout == 0 {
		storeTimeout = 10 * time.Second
	}
	var prof *pgProfile
	if s.profile && strings.HasPrefix(kind, "postgres") {
		if prof, err = startProfile(ctx, s.dsn); err != nil {
			return Result{}, err
		}
	}
	var wg sync.WaitGroup
	client0, server0 := selfCPU(), serverCPU()
	start := time.Now()
	for c := range o.Clients {
		for w := range o.Sessions {
			ss := &session{}
			sessions[c*o.Sessions+w] = ss
			var now time.Time
			eng := &limits.Engine{Store: sts[c], Policy: pol, Accounts: limits.Accounts{Host: fmt.Sprint("mx", c)},
				OnSuspended: policy.Tempfail, Log: log, Now: func() time.Time { return now }, Timeout: storeTimeout}
			wg.Go(func() {
				for {
					i := int(issued.Add(1)) - 1
					if i >= o.Messages {
						return
					}
					if o.Rate > 0 {
						due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
						if d := time.Until(due); d > 0 {
							time.Sleep(d)
						} else if -d > lateBy {
							ss.late++
						}
					}
					now = sentAt(i)
					ok, at, rcpts, mail, eom, err := message(ctx, eng, p, i)
					if errors.Is(err, limits.ErrClockSkew) {
						// A session that waited for the store (SQLite's
						// lock) while the others sent an hour of the
						// compressed day: its clock is that far behind
						// theirs. milterd answers limits.on_error
						// (tempfail): refused, as here.
						ss.skew++
						ok, err = false, nil
					}
					if err != nil {
						ss.err = err
						return
					}
					ss.mail = append(ss.mail, mail)
					if eom > 0 {
						ss.eom = append(ss.eom, eom)
					}
					if ok {
						ss.sent = append(ss.sent, sent{int(p.acct[i]), at, rcpts})
					} else {
						ss.refused++
					}
				}
			})
		}
	}
	wg.Wait()
	r := Result{Store: kind, Clients: o.Clients, Messages: o.Messages, Seconds: time.Since(start).Seconds(),
		ClientCPU: (selfCPU() - client0) / float64(o.Messages), ServerCPU: (serverCPU() - server0) / float64(o.Messages)}
	if prof != nil {
		r.Profile = prof.report(ctx, o.Messages)
	}
	var mail, eom []time.Duration
	var all []sent
	for _, ss := range sessions {
		if ss.err != nil {
			return r, ss.err
		}
		mail, eom, all = append(mail, ss.mail...), append(eom, ss.eom...), append(all, ss.sent...)
		r.Refused += ss.refused
		r.SkewRefused += ss.skew
		r.Late += ss.late
	}
	r.Admitted = len(all)
	r.MailP50, r.MailP99 = quantile(mail, 0.5), quantile(mail, 0.99)
	r.EOMP50, r.EOMP99 = quantile(eom, 0.5), quantile(eom, 0.99)
	if err := exactness(ctx, &r, sts[0], all, sentAt(o.Messages)); err != nil {
		return r, err
	}
	r.Size = size(r.Active, r.Admitted)
	return r, nil
}

// message runs message i of the plan through eng as milterd's session
// would: MAIL, each RCPT, end-of-message (the spam check's count, the
// limits check, the commit). It reports whether the message was admitted
// and when, and how long the store work of MAIL and of end-of-message took
// (0: the stage was not reached).
func message(ctx context.Context, eng *limits.Engine, p plan, i int) (ok bool, at time.Time, rcpts int, mail, eom time.Duration, err error) {
	key := int(p.acct[i])
	// Two networks per account: /24s that differ in the first octet.
	tx := &policy.Transaction{ID: fmt.Sprint("t", i), QueueID: fmt.Sprintf("Q%09d", i), User: account(key), From: account(key),
		Conn:    policy.Conn{Addr: netip.AddrFrom4([4]byte{10 + p.net[i], byte(key >> 16), byte(key >> 8), byte(key)})},
		Headers: []policy.Header{{Name: "Message-ID", Value: fmt.Sprintf("<%d@customer.test>", i)}}}
	t0 := time.Now()
	v, err := eng.CheckMail(ctx, tx)
	mail = time.Since(t0)
	if err != nil || v.Action != policy.Accept {
		return false, at, 0, mail, 0, err
	}
	for r := range int(p.rcpts[i]) {
		rc := fmt.Sprintf("r%d@remote%d.test", r, i%97)
		if v, err := eng.CheckRcpt(ctx, tx, rc); err != nil || v.Action != policy.Accept {
			if err != nil {
				return false, at, 0, mail, 0, err
			}
			break
		}
		tx.Rcpts = append(tx.Rcpts, rc)
	}
	if len(tx.Rcpts) == 0 {
		return false, at, 0, mail, 0, nil
	}
	t0 = time.Now()
	if p.spam[i] {
		if err := eng.CountSpam(ctx, tx, "rspamd add header 7.20/15.00"); err != nil {
			return false, at, 0, mail, time.Since(t0), err
		}
	}
	if v, err = eng.CheckMessage(ctx, tx); err != nil || v.Action != policy.Accept {
		return false, at, 0, mail, time.Since(t0), err
	}
	at = eng.Now()
	v, err = eng.Commit(ctx, tx)
	return err == nil && v.Action == policy.Accept, at, len(tx.Rcpts), mail, time.Since(t0), err
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// exactness recounts every account's windows from the admitted messages,
// as the store counts them (limits.go: 60 minute buckets for an hour, 24
// hour buckets for a day), against the limits, and compares the store's
// count at the end with the log's.
func exactness(ctx context.Context, r *Result, st limits.Store, all []sent, end time.Time) error {
	by := map[int][]sent{}
	for _, s := range all {
		by[s.key] = append(by[s.key], s)
	}
	r.Active = len(by)
	for key, ss := range by {
		for _, w := range []struct {
			bucket     int64
			n          int64
			msgs, rcpt int
		}{{60, 60, lim.MessagesPerHour, lim.RecipientsPerHour}, {3600, 24, lim.MessagesPerDay, lim.RecipientsPerDay}} {
			msgs, rcpts := map[int64]int{}, map[int64]int{}
			for _, s := range ss {
				b := s.at.Unix() / w.bucket
				msgs[b]++
				rcpts[b] += s.rcpts
			}
			// Every window that ends at a bucket in use.
			for last := range msgs {
				var m, rc int
				for b := last - w.n + 1; b <= last; b++ {
					m, rc = m+msgs[b], rc+rcpts[b]
				}
				r.WindowsChecked++
				if m > w.msgs || rc > w.rcpt {
					r.OverAdmits++
				}
			}
		}
		// The store's count at the end is the log's.
		u, _, err := st.Usage(ctx, account(key), end)
		if err != nil {
			return err
		}
		var hour, dayN int
		fm, fh := end.Unix()/60-59, end.Unix()/3600-23
		for _, s := range ss {
			if s.at.Unix()/60 >= fm {
				hour++
			}
			if s.at.Unix()/3600 >= fh {
				dayN++
			}
		}
		r.CountsChecked++
		if u.MessagesHour != hour || u.MessagesDay != dayN {
			r.CountMismatches++
		}
	}
	return nil
}

func main() {
	accounts := flag.Int("accounts", 100000, "accounts")
	messages := flag.Int("messages", 30000, "messages in the simulated day, per run")
	clients := flag.String("clients", "1,4,8", "numbers of clients (smarthosts), one run each")
	sessions := flag.Int("sessions", 2, "sessions at once per client")
	stores := flag.String("stores", "sqlite,postgres,postgres-sync,postgres-fsync-off,redis", "stores: sqlite (the baseline: first), postgres, postgres-sync (og_admit waiting for the flush), postgres-fsync-off, redis")
	seed := flag.Uint64("seed", 1, "random seed")
	rate := flag.Float64("rate", 0, "messages a second across the fleet (0: as fast as the sessions go, a closed loop)")
	profile := flag.Bool("profile", false, "PostgreSQL's statistics on (pg_stat_statements, the WAL's timing) and its sessions' waits sampled: each PostgreSQL run's server side, after the table")
	flag.Parse()
	p := &harness.Program{Name: "fleet"}
	defer p.Close()
	start := StartStores
	if *profile {
		start = startProfiledStores
	}
	s := start(p)
	var profiles []string
	ctx := context.Background()
	fmt.Printf("Fleet: %d accounts (Zipf 1.1), %d messages over a simulated day per run, %d sessions per client, the shipped default limits", *accounts, *messages, *sessions)
	if *rate > 0 {
		fmt.Printf(", paced at %.0f messages a second across the fleet (refused: and how many started over %v late)", *rate, lateBy)
	}
	fmt.Print("\n\n")
	fmt.Println("| clients | store | checks/s | ratio to SQLite | MAIL p50 / p99 ms | end-of-message p50 / p99 ms | client CPU ms/msg | server CPU ms/msg | admitted | refused | over-admits (windows checked) | count mismatches | B per active account | B per message record | sizes |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	failed := false
	for _, n := range strings.Split(*clients, ",") {
		c, err := strconv.Atoi(n)
		if err != nil {
			p.Fatalf("-clients: %v", err)
		}
		var base float64
		for _, kind := range strings.Split(*stores, ",") {
			r, err := Run(ctx, s, kind, Options{Accounts: *accounts, Messages: *messages, Clients: c, Sessions: *sessions, Seed: *seed, Rate: *rate})
			if err != nil {
				p.Fatalf("%s, %d clients: %v", kind, c, err)
			}
			if kind == "sqlite" {
				base = r.ChecksPerSecond()
			}
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2f", r.ChecksPerSecond()/base)
			}
			refused := fmt.Sprint(r.Refused)
			if *rate > 0 {
				refused += fmt.Sprintf(", %d started late", r.Late)
			}
			if r.SkewRefused > 0 {
				refused += fmt.Sprintf(" (%d clock skew)", r.SkewRefused)
			}
			fmt.Printf("| %d | %s | %.0f | %s | %.2f / %.2f | %.2f / %.2f | %.3f | %.3f | %d | %s | %d (%d) | %d of %d | %.0f | %.0f | %s |\n", c, kind, r.ChecksPerSecond(), ratio,
				ms(r.MailP50), ms(r.MailP99), ms(r.EOMP50), ms(r.EOMP99), r.ClientCPU, r.ServerCPU, r.Admitted, refused, r.OverAdmits, r.WindowsChecked, r.CountMismatches, r.CountsChecked, r.Size.PerAccount, r.Size.PerMessage, r.Size.Detail)
			failed = failed || r.OverAdmits > 0 || r.CountMismatches > 0
			if r.Profile != "" {
				profiles = append(profiles, fmt.Sprintf("- %d clients, %s: %s", c, kind, r.Profile))
			}
		}
	}
	if len(profiles) > 0 {
		fmt.Printf("\nServer side:\n\n%s\n", strings.Join(profiles, "\n"))
	}
	if failed {
		p.Fatalf("over-admits or counts that differ from the log")
	}
}

// lateBy is how far behind its time a paced message may start before it
// counts as late (Result.Late).
const lateBy = 5 * time.Millisecond

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
