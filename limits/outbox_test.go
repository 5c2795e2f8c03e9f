package limits_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
)

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openers opens a new connection to one shared store of each kind, as
// each milterd (or a restarted one) does.
func openers(t *testing.T) map[string]func() limits.Store {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	addr := harness.StartRedis(t).Addr
	dsn := harness.StartPostgres(t).DSN
	open := map[string]func() (limits.Store, error){
		"sqlite":   func() (limits.Store, error) { return limits.OpenSQLite(path) },
		"redis":    func() (limits.Store, error) { return limits.OpenRedis(ctx, addr) },
		"postgres": func() (limits.Store, error) { return limits.OpenPostgres(ctx, dsn) },
	}
	out := map[string]func() limits.Store{}
	for name, o := range open {
		out[name] = func() limits.Store {
			st, err := o()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	}
	return out
}

// receiver is a webhook receiver written from the documented scheme: it
// checks each post's signature and counts posts by the alert's id.
type receiver struct {
	key  []byte
	mu   sync.Mutex
	got  map[string]int // alert id -> posts
	acct map[string]string
	bad  []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !verifySig(rc.key, body, r.Header.Get(alert.SignatureHeader)) {
		rc.bad = append(rc.bad, string(body))
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	var al limits.Alert
	json.Unmarshal(body, &al)
	rc.got[al.ID]++
	rc.acct[al.ID] = al.Account
}

func verifySig(key, body []byte, header string) bool {
	var ts, sig string
	for _, kv := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "." + string(body)))
	want, _ := hex.DecodeString(sig)
	return hmac.Equal(m.Sum(nil), want)
}

// downAddr returns a loopback address nothing listens on (yet): no other
// test's server is given it (harness.DownPort).
func downAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", harness.DownPort(t))
}

// serve starts h on addr and stops it at the test's end.
func serve(t *testing.T, addr string, h http.Handler) *http.Server {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// The test: a webhook receiver down during three suspensions gets
// all three, signed, once each, after it comes back, on every store, with
// the milterd that fired them stopped in between and two milterds (two
// store connections, two couriers at once) delivering. Before the
// outbox, the alerts were posted once in the background and lost.
func TestOutboxReceiverDown(t *testing.T) {
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "key")
			os.WriteFile(keyFile, []byte("k3y\n"), 0o600)
			addr := downAddr(t)
			snd := alert.Sender{Webhook: "http://" + addr + "/hook", SecretFile: keyFile, Timeout: 2 * time.Second}
			clk := &clock{t: time.Now()}
			logs := &harness.LogBuffer{}
			log := harness.Logger(t, logs)

			// milterd 1 suspends three accounts while the receiver is down.
			st1 := open()
			pol, _ := limits.NewPolicy(limits.Limits{UndeliverablePerHour: 1}, nil)
			eng := &limits.Engine{Store: st1, Policy: pol, Log: log, Now: clk.Now, SuspendFor: time.Hour,
				Accounts: limits.Accounts{Host: "mx1"},
				Alert:    &limits.Alerter{Sender: snd, Log: log, Outbox: st1, Now: clk.Now}}
			for _, acct := range []string{"a@example.net", "b@example.net", "c@example.net"} {
				ev := limits.Undeliverable{ID: acct, Time: clk.Now(), Rcpt: "x@y", Status: "5.1.1", Source: "rcpt"}
				if s, err := eng.Undeliverable(ctx, acct, []limits.Undeliverable{ev}); err != nil || s == nil {
					t.Fatalf("%s not suspended: %v", acct, err)
				}
			}
			c1 := &limits.Courier{Store: st1, Host: "mx1", Sender: snd, Log: log, Now: clk.Now, Backoff: time.Minute}
			if n, err := c1.Flush(ctx); n != 0 || err != nil {
				t.Fatalf("delivered %d to a receiver that is down: %v", n, err)
			}
			items, err := st1.OutboxItems(ctx)
			if err != nil || len(items) != 3 {
				t.Fatalf("outbox: %d items, %v", len(items), err)
			}
			for _, it := range items {
				if it.Attempts != 1 || !strings.Contains(it.LastError, "connection refused") {
					t.Errorf("item %+v", it)
				}
			}
			st1.Close() // milterd 1 stops

			rc := &receiver{key: []byte("k3y"), got: map[string]int{}, acct: map[string]string{}}
			serve(t, addr, rc)
			// Two milterds share the store; the retry is not due yet.
			var cs []*limits.Courier
			for _, h := range []string{"mx1", "mx2"} {
				st := open()
				cs = append(cs, &limits.Courier{Store: st, Host: h, Sender: snd, Log: log, Now: clk.Now, Backoff: time.Minute})
			}
			if n, _ := cs[0].Flush(ctx); n != 0 {
				t.Fatalf("%d delivered before the retry was due", n)
			}
			clk.Add(time.Minute)
			var wg sync.WaitGroup
			var total [2]int
			for i, c := range cs {
				wg.Go(func() {
					for range 3 {
						n, err := c.Flush(ctx)
						if err != nil {
							t.Error(err)
						}
						total[i] += n
					}
				})
			}
			wg.Wait()
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.bad) > 0 {
				t.Errorf("unsigned or badly signed: %q", rc.bad)
			}
			accts := map[string]bool{}
			for id, n := range rc.got {
				if n != 1 {
					t.Errorf("alert %s (%s) posted %d times", id, rc.acct[id], n)
				}
				accts[rc.acct[id]] = true
			}
			if len(rc.got) != 3 || len(accts) != 3 || total[0]+total[1] != 3 {
				t.Errorf("got %v (couriers delivered %v)", rc.got, total)
			}
			if items, _ := cs[1].Store.OutboxItems(ctx); len(items) != 0 {
				t.Errorf("left in the outbox: %+v", items)
			}
		})
	}
}

// Two couriers on two connections race for one outbox, each with four
// flushes at once: every item is delivered exactly once (a claim is one
// conditional write). Before: a claim that read then wrote would hand
// one row to two couriers.
func TestOutboxClaimRace(t *testing.T) {
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			got := map[string]int{}
			addr := downAddr(t)
			serve(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var al limits.Alert
				json.NewDecoder(r.Body).Decode(&al)
				mu.Lock()
				got[al.ID]++
				mu.Unlock()
			}))
			snd := alert.Sender{Webhook: "http://" + addr + "/", Timeout: 5 * time.Second}
			log := harness.Logger(t, &harness.LogBuffer{})
			st := open()
			a := &limits.Alerter{Sender: snd, Log: log, Outbox: st}
			const n = 100
			for i := range n {
				a.Fire(limits.Alert{Event: "limit", Account: fmt.Sprint("u", i)})
			}
			var wg sync.WaitGroup
			for h := range 2 {
				st := open()
				c := &limits.Courier{Store: st, Host: fmt.Sprint("mx", h), Sender: snd, Log: log}
				for range 4 {
					wg.Go(func() {
						if _, err := c.Flush(ctx); err != nil {
							t.Error(err)
						}
					})
				}
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for id, k := range got {
				if k != 1 {
					t.Errorf("alert %s delivered %d times", id, k)
				}
			}
			if len(got) != n {
				t.Errorf("%d of %d delivered", len(got), n)
			}
		})
	}
}

// A lease keeps an item from every other courier until it ends; then the
// item is claimed again (a courier killed mid-send: at least once). A
// holder whose lease was taken over cannot finish or put back the item.
func TestOutboxLease(t *testing.T) {
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ob := open()
			now := time.Now()
			if err := ob.Enqueue(ctx, limits.OutboxItem{ID: "x webhook", AlertID: "x", Dest: limits.DestWebhook, Body: []byte("{}"), Created: now}); err != nil {
				t.Fatal(err)
			}
			a, err := ob.Claim(ctx, "A", now, time.Minute, 10)
			if err != nil || len(a) != 1 || string(a[0].Body) != "{}" {
				t.Fatalf("claim: %+v %v", a, err)
			}
			if b, _ := ob.Claim(ctx, "B", now.Add(59*time.Second), time.Minute, 10); len(b) != 0 {
				t.Fatalf("claimed during A's lease: %+v", b)
			}
			if b, _ := ob.Claim(ctx, "B", now.Add(time.Minute), time.Minute, 10); len(b) != 1 {
				t.Fatalf("not claimed after A's lease: %+v", b)
			}
			if ok, err := ob.Finish(ctx, "x webhook", "A"); ok || err != nil {
				t.Errorf("A finished B's item: %v %v", ok, err)
			}
			a[0].Attempts = 7
			ob.Retry(ctx, a[0], "A", now)
			if items, _ := ob.OutboxItems(ctx); len(items) != 1 || items[0].Attempts != 0 {
				t.Errorf("A put back B's item: %+v", items)
			}
			if ok, err := ob.Finish(ctx, "x webhook", "B"); !ok || err != nil {
				t.Errorf("B: %v %v", ok, err)
			}
			if items, _ := ob.OutboxItems(ctx); len(items) != 0 {
				t.Errorf("left: %+v", items)
			}
		})
	}
}

// A receiver answering 500 forever: the retries back off exponentially
// (1, 2, 4, 8 minutes, then every 10) on the test's clock, nothing is
// tried before it is due, and once the alert is older than MaxAge (1 h)
// it is given up: removed, logged with the alert, and in the account's
// audit trail. A receiver that hangs is given up at Sender.Timeout each
// time (the lease outlasts it).
func TestOutboxBackoffAndGiveUp(t *testing.T) {
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			posts := 0
			var mu sync.Mutex
			addr := downAddr(t)
			hang := make(chan struct{})
			t.Cleanup(func() { close(hang) })
			serve(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				posts++
				mu.Unlock()
				if r.URL.Path == "/hang" {
					<-hang
				}
				http.Error(w, "down for maintenance", http.StatusInternalServerError)
			}))
			st := open()
			ob := st
			clk := &clock{t: time.Now()}
			logs := &harness.LogBuffer{}
			log := harness.Logger(t, logs)
			snd := alert.Sender{Webhook: "http://" + addr + "/500", Timeout: 300 * time.Millisecond}
			(&limits.Alerter{Sender: snd, Log: log, Outbox: ob, Now: clk.Now}).Fire(limits.Alert{Event: "limit", Account: "eve"})
			c := &limits.Courier{Store: st, Host: "mx1", Sender: snd, Log: log, Now: clk.Now,
				Backoff: time.Minute, MaxBackoff: 10 * time.Minute, MaxAge: time.Hour}
			var delays []time.Duration
			last := clk.Now()
			for range 20 {
				c.Flush(ctx)
				items, err := ob.OutboxItems(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(items) == 0 {
					break
				}
				// Step the clock a second at a time up to the retry: each
				// step before it tries nothing.
				before := items[0].Attempts
				for {
					clk.Add(time.Second)
					c.Flush(ctx)
					if items, _ := ob.OutboxItems(ctx); len(items) == 0 || items[0].Attempts != before {
						break
					}
				}
				delays = append(delays, clk.Now().Sub(last))
				last = clk.Now()
			}
			want := "[1m0s 2m0s 4m0s 8m0s 10m0s 10m0s 10m0s 10m0s 10m0s]"
			if fmt.Sprint(delays) != want {
				t.Errorf("retries after %v, want %s", delays, want)
			}
			if items, _ := ob.OutboxItems(ctx); len(items) != 0 {
				t.Fatalf("not given up: %+v", items)
			}
			mu.Lock()
			if posts != 10 {
				t.Errorf("%d posts, want 10", posts)
			}
			mu.Unlock()
			trail, _ := st.AuditTrail(ctx, "eve", time.Time{})
			if len(trail) != 1 || trail[0].Event != limits.AuditAlertLost || !strings.Contains(trail[0].Detail, "after 10 attempts: alert webhook: 500") {
				t.Errorf("audit trail: %+v", trail)
			}
			if !strings.Contains(logs.String(), "alert outbox: given up") || !strings.Contains(logs.String(), `\"event\":\"limit\"`) {
				t.Errorf("give-up not logged with the alert:\n%s", logs)
			}

			// A receiver that never answers: the attempt ends at the
			// sender's timeout and is retried later.
			c.Sender.Webhook = "http://" + addr + "/hang"
			(&limits.Alerter{Sender: c.Sender, Log: log, Outbox: ob, Now: clk.Now}).Fire(limits.Alert{Event: "limit", Account: "eve"})
			if n, err := c.Flush(ctx); n != 0 || err != nil {
				t.Fatalf("flush: %d %v", n, err)
			}
			if items, _ := ob.OutboxItems(ctx); len(items) != 1 || items[0].Attempts != 1 || !strings.Contains(items[0].LastError, "deadline exceeded") {
				t.Errorf("hung receiver: %+v", items)
			}
		})
	}
}

// The store is down (Redis stopped) when an alert fires: Fire logs the
// alert, keeps it, and enqueues it once the store is back; the courier
// then delivers it; one the store does not take within RequeueFor is
// logged as lost. Before: nothing was durable.
func TestOutboxStoreDownWhileEnqueueing(t *testing.T) {
	ctx := context.Background()
	rd := harness.StartRedis(t)
	st, err := limits.OpenRedisOptions(ctx, limits.RedisOptions{Addr: rd.Addr, Timeout: 200 * time.Millisecond, PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &harness.LogBuffer{}
	log := harness.Logger(t, logs)
	a := &limits.Alerter{Sender: alert.Sender{Webhook: "http://127.0.0.1:9/"}, Log: log, Outbox: st, Timeout: 300 * time.Millisecond, Requeue: 50 * time.Millisecond}
	rd.Pause()
	a.Fire(limits.Alert{Event: "suspended", Account: "mallory"})
	if !strings.Contains(logs.String(), "the store did not take it") || !strings.Contains(logs.String(), `\"account\":\"mallory\"`) {
		t.Errorf("not logged with the alert:\n%s", logs)
	}
	// The bound: an alert the store does not take within RequeueFor is
	// logged as lost, with its JSON.
	(&limits.Alerter{Sender: a.Sender, Log: log, Outbox: st, Timeout: 100 * time.Millisecond, Requeue: 50 * time.Millisecond, RequeueFor: 300 * time.Millisecond}).Fire(limits.Alert{Event: "suspended", Account: "trudy"})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "alert lost: the store did not take it"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not given up:\n%s", logs)
		}
	}
	if !strings.Contains(logs.String(), `\"account\":\"trudy\"`) {
		t.Errorf("the lost alert is not in the log:\n%s", logs)
	}
	rd.Resume()
	deadline := time.Now().Add(30 * time.Second)
	for {
		items, err := st.OutboxItems(ctx)
		if err == nil && len(items) == 1 && items[0].Account == "mallory" {
			// trudy's was given up: it never reaches the store.
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not enqueued after the store came back: %+v %v\n%s", items, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
