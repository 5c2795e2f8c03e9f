package limits_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// turnCounter is a loopback TCP relay to a real server that counts round
// trips: each time the client speaks after the server did (or first) is
// one, however the bytes are split into packets.
type turnCounter struct {
	Addr  string
	turns atomic.Int64
	mu    sync.Mutex
	last  int // 1: the client spoke last, 2: the server
}

func countTurns(t *testing.T, upstream string) *turnCounter {
	c := &turnCounter{}
	c.Addr = relayTo(t, upstream, func(down, up net.Conn) {
		go forward(up, down, func([]byte) bool { c.spoke(1); return true })
		go forward(down, up, func([]byte) bool { c.spoke(2); return true })
	})
	return c
}

// spoke counts a turn when the client (side 1) speaks after the server.
func (c *turnCounter) spoke(side int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if side == 1 && c.last != 1 {
		c.turns.Add(1)
	}
	c.last = side
}

// relayTo listens on a loopback port (its address returned) and, for
// each connection, dials upstream and hands both to serve; the listener
// is closed with the test.
func relayTo(t *testing.T, upstream string, serve func(down, up net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			serve(down, up)
		}
	}()
	return ln.Addr().String()
}

// forward copies src to dst, each read passed to pass first (false: the
// read is dropped and the copy ends), and closes both when it ends.
func forward(dst, src net.Conn, pass func([]byte) bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !pass(buf[:n]) {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// The store work of a message through the engine, stage by stage, on the
// real servers, through a relay that counts round trips: MAIL (the
// account's state and the login's network recorded and counted) one, RCPT
// none, end-of-message (a spam verdict counted and the message admitted)
// one. Before (measured with this test): PostgreSQL took 6 at MAIL (the
// state read, then BEGIN, the advisory lock, the sighting, the count,
// COMMIT) and 11 at end-of-message (the spam verdict as at MAIL, then
// BEGIN, the lock, the usage read, the slot upsert, the record, COMMIT);
// Redis 2 and 2.
func TestStageRoundTrips(t *testing.T) {
	ctx := context.Background()
	pol, _ := limits.NewPolicy(exampleLimits, nil)
	for name, c := range countedStores(t) {
		t.Run(name, func(t *testing.T) {
			eng := &limits.Engine{Store: c.st, Policy: pol, OnSuspended: policy.Reject, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now}
			for i := range 3 { // the first loads the scripts, prepares the statements
				tx := &policy.Transaction{ID: fmt.Sprint("t", i), QueueID: fmt.Sprint("Q", i), User: "carol", From: "carol@customer.test",
					Headers: []policy.Header{{Name: "Message-ID", Value: fmt.Sprintf("<%d@customer.test>", i)}},
					Conn:    policy.Conn{Addr: netip.MustParseAddr(fmt.Sprintf("192.0.%d.7", i))}}
				stage := func(what string, want int64, f func() policy.Verdict) {
					before := c.turns.turns.Load()
					if v := f(); v.Action != policy.Accept {
						t.Fatalf("message %d: %s: %v", i, what, v)
					}
					if got := c.turns.turns.Load() - before; i > 0 && got != want {
						t.Errorf("message %d: %s took %d round trips, want %d", i, what, got, want)
					}
				}
				stage("MAIL", 1, func() policy.Verdict { return must(t)(eng.CheckMail(ctx, tx)) })
				stage("RCPT", 0, func() policy.Verdict {
					tx.Rcpts = nil
					v := must(t)(eng.CheckRcpt(ctx, tx, "x@remote.test"))
					tx.Rcpts = append(tx.Rcpts, "x@remote.test")
					return v
				})
				stage("end-of-message", 1, func() policy.Verdict {
					if err := eng.CountSpam(ctx, tx, "rspamd add header 6.00/15.00"); err != nil {
						t.Fatal(err)
					}
					if v := must(t)(eng.CheckMessage(ctx, tx)); v.Action != policy.Accept {
						return v
					}
					return must(t)(eng.Commit(ctx, tx))
				})
			}
			// What was folded in was counted: 3 networks, 3 spam verdicts.
			n, err := c.st.Sight(ctx, "carol", nil, time.Now())
			if err != nil || n[limits.SignalNetworks] != 3 || n[limits.SignalSpam] != 3 {
				t.Errorf("counted %v %v, want 3 networks and 3 spam verdicts", n, err)
			}
			if u, _, err := c.st.Usage(ctx, "carol", time.Now()); err != nil || u.MessagesHour != 3 {
				t.Errorf("usage %+v %v, want 3 messages", u, err)
			}
		})
	}
}

// countedStore is a store client whose round trips are counted.
type countedStore struct {
	st    limits.Store
	turns *turnCounter
}

// countedStores are a PostgreSQL and a Redis client, each on one
// connection through a turnCounter, closed with the test.
func countedStores(t *testing.T) map[string]countedStore {
	ctx := context.Background()
	pgSrv := harness.StartPostgres(t)
	pgProxy := countTurns(t, fmt.Sprintf("127.0.0.1:%d", pgSrv.Port))
	pg, err := limits.OpenPostgres(ctx, fmt.Sprintf("host=127.0.0.1 port=%s user=postgres dbname=postgres sslmode=disable pool_max_conns=1", port(t, pgProxy.Addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	rdProxy := countTurns(t, harness.StartRedis(t).Addr)
	rd, err := limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: rdProxy.Addr, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return map[string]countedStore{"postgres": {pg, pgProxy}, "redis": {rd, rdProxy}}
}

func must(t *testing.T) func(policy.Verdict, error) policy.Verdict {
	return func(v policy.Verdict, err error) policy.Verdict {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func port(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Eight clients, each with its own connection to the store as eight
// smarthosts have, send for one account at once, against its limit: it is
// reached exactly, never passed, and the spam verdict counted in the same
// round trip as each message is counted one after the other (every count
// from 1 to the number of attempts returned once).
func TestEightClientsAtLimit(t *testing.T) {
	const clients, each, limit = 8, 15, 50
	ctx := context.Background()
	for name, open := range storeOpeners(t) {
		t.Run(name, func(t *testing.T) {
			sts := openClients(t, open, clients)
			now := time.Now()
			lim := limits.Limits{MessagesPerHour: limit, RecipientsPerDay: 10 * limit}
			var admitted atomic.Int64
			seen := make([]atomic.Int64, clients*each+1)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					<-start
					for i := range each {
						spam := limits.Sighting{Signal: limits.SignalSpam, Value: fmt.Sprint("m", c, "-", i), First: now, Last: now}
						_, ok, _, n, err := sts[c].CommitMessage(ctx, "shared", limits.Sent{Host: fmt.Sprint("mx", c), QueueID: fmt.Sprint("Q", i), Rcpts: []string{"r"}, Time: now}, lim, []limits.Sighting{spam}, now)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							admitted.Add(1)
						}
						if k := n[limits.SignalSpam]; k >= 1 && k < len(seen) {
							seen[k].Add(1)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			if got := admitted.Load(); got != limit {
				t.Errorf("%d admitted of %d attempts against a limit of %d", got, clients*each, limit)
			}
			for k := 1; k < len(seen); k++ {
				if seen[k].Load() != 1 {
					t.Errorf("spam count %d returned %d times: not counted one after the other", k, seen[k].Load())
					break
				}
			}
			if u, _, err := sts[0].Usage(ctx, "shared", now); err != nil || u.MessagesHour != limit {
				t.Errorf("usage %+v %v, want %d messages", u, err, limit)
			}
		})
	}
}

// The stages' functions run as the roles of docs/postgres.md: a
// smarthost's role with row rights only (the schema kept by its DBA, who
// started milterd once as the owner) records and counts through them; the
// abuse desk's reads an account through og_begin but cannot count a
// message through og_admit (SECURITY INVOKER: the caller's rights).
func TestPostgresStagesGrants(t *testing.T) {
	pg := harness.StartPostgres(t)
	owner := pg.Database("outguard", "milterd", "smarthost", "abusedesk")
	ctx := context.Background()
	m, err := limits.OpenPostgres(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	// As in docs/postgres.md.
	pg.SQL("outguard", `GRANT SELECT ON schema_version TO smarthost;
		GRANT SELECT, INSERT, UPDATE, DELETE ON counters, msgs, delivered, undeliverable, suspended, acks, sightings TO smarthost;
		GRANT SELECT ON schema_version, counters, msgs, delivered, undeliverable, suspended, acks, sightings TO abusedesk;
		GRANT INSERT, UPDATE, DELETE ON suspended, acks TO abusedesk;
		GRANT DELETE ON counters TO abusedesk;`)
	sh, err := limits.OpenPostgres(ctx, pg.DSNFor("smarthost", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	now := time.Now()
	login := []limits.Sighting{{Signal: limits.SignalNetworks, Value: "192.0.2.0/24", First: now, Last: now}}
	if _, _, n, err := sh.BeginMessage(ctx, "alice", login, now); err != nil || n[limits.SignalNetworks] != 1 {
		t.Fatalf("smarthost MAIL: %v %v", n, err)
	}
	spam := []limits.Sighting{{Signal: limits.SignalSpam, Value: "m1", First: now, Last: now}}
	if _, ok, _, n, err := sh.CommitMessage(ctx, "alice", limits.Sent{Host: "mx1", QueueID: "Q1", Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 5}, spam, now); !ok || err != nil || n[limits.SignalSpam] != 1 {
		t.Fatalf("smarthost commit: %v %v %v", ok, n, err)
	}
	r, err := limits.OpenPostgres(ctx, pg.DSNFor("abusedesk", "outguard"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if u, _, err := r.Usage(ctx, "alice", now); err != nil || u.MessagesHour != 1 {
		t.Errorf("abuse desk reading alice: %+v %v", u, err)
	}
	if _, _, _, _, err := r.CommitMessage(ctx, "alice", limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 5}, nil, now); err == nil {
		t.Error("the abuse desk's role counted a message through og_admit")
	}
	if u, _, err := r.Usage(ctx, "alice", now); err != nil || u.MessagesHour != 1 {
		t.Errorf("after the abuse desk's attempt: %+v %v", u, err)
	}
	// A site that revokes EXECUTE from PUBLIC grants it as
	// docs/postgres.md says.
	pg.SQL("outguard", `REVOKE EXECUTE ON FUNCTION og_begin, og_admit, og_sight, og_usage FROM PUBLIC;
		GRANT EXECUTE ON FUNCTION og_begin, og_admit, og_sight, og_usage TO smarthost;
		GRANT EXECUTE ON FUNCTION og_begin, og_usage TO abusedesk;`)
	if _, _, n, err := sh.BeginMessage(ctx, "alice", login, now); err != nil || n[limits.SignalNetworks] != 1 {
		t.Errorf("smarthost MAIL after the revoke: %v %v", n, err)
	}
	if _, ok, _, _, err := sh.CommitMessage(ctx, "alice", limits.Sent{Rcpts: []string{"r"}, Time: now}, limits.Limits{MessagesPerHour: 5}, nil, now); !ok || err != nil {
		t.Errorf("smarthost commit after the revoke: %v %v", ok, err)
	}
	if u, _, err := r.Usage(ctx, "alice", now); err != nil || u.MessagesHour != 2 {
		t.Errorf("abuse desk reading alice after the revoke: %+v %v", u, err)
	}
}
