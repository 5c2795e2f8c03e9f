package limits_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"outguard/internal/alert"
	"outguard/internal/harness"
	"outguard/limits"
	"outguard/policy"
)

// limitItems are the outbox's items of "limit" alerts, by destination.
func limitItems(t *testing.T, st limits.Store) map[string]int {
	t.Helper()
	items, err := st.OutboxItems(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, it := range items {
		var al limits.Alert
		if json.Unmarshal(it.Body, &al) == nil && al.Event == "limit" {
			n[it.Dest]++
		}
	}
	return n
}

// waitItems waits until the outbox has want limit alerts for each of the
// two destinations, and then a while for more that would come.
func waitItems(t *testing.T, st limits.Store, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := limitItems(t, st)
		if n[limits.DestWebhook] >= want && n[limits.DestMail+"desk@isp.test"] >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a second claim would be enqueued by now
	return limitItems(t, st)
}

// Issue #29: two milterds (two engines, each with its own client of one
// shared store) refuse the same account over its limit at once, many
// times each: the fleet enqueues the "limit" alert once per destination.
// Before, the once-per-window memory was each process's own: two.
func TestLimitAlertOnceForAFleet(t *testing.T) {
	ctx := context.Background()
	pol, _ := limits.NewPolicy(limits.Limits{MessagesPerHour: 1}, nil)
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			var engines []*limits.Engine
			for i := range 2 {
				st := open()
				engines = append(engines, &limits.Engine{Store: st, Policy: pol, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now,
					Accounts: limits.Accounts{Host: fmt.Sprint("mx", i)},
					Alert:    &limits.Alerter{Sender: alert.Sender{Webhook: "http://127.0.0.1:9/"}, MailTo: "desk@isp.test", Log: harness.Logger(t, &harness.LogBuffer{}), Outbox: st, Once: st}})
			}
			tx := &policy.Transaction{User: "alice", QueueID: "Q0", Rcpts: []string{"bob@remote.test"}}
			if v, err := engines[0].CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
				t.Fatalf("MAIL: %v %v", v, err)
			}
			if v, err := engines[0].Commit(ctx, tx); err != nil || v.Action != policy.Accept {
				t.Fatalf("end of message: %v %v", v, err)
			}
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tx := &policy.Transaction{User: "alice", QueueID: fmt.Sprint("Q", i+1), Rcpts: []string{"bob@remote.test"}}
					if v, err := engines[i%2].CheckMail(ctx, tx); err != nil || v.Action != policy.Tempfail {
						t.Errorf("MAIL over the limit: %v %v", v, err)
					}
				}()
			}
			wg.Wait()
			n := waitItems(t, engines[0].Store, 1)
			if n[limits.DestWebhook] != 1 || n[limits.DestMail+"desk@isp.test"] != 1 || len(n) != 2 {
				t.Errorf("limit alerts in the outbox by destination: %v; want one each", n)
			}
		})
	}
}

// Issue #29: the claim expires with the window: the next window's
// crossing is alerted again, once.
func TestOnceClaimExpires(t *testing.T) {
	ctx := context.Background()
	for name, open := range openers(t) {
		t.Run(name, func(t *testing.T) {
			a, b := open(), open()
			now := time.Now()
			until := now.Add(time.Hour)
			first, err := a.ClaimOnce(ctx, "limit messages per hour alice", until, now)
			second, err2 := b.ClaimOnce(ctx, "limit messages per hour alice", until.Add(time.Minute), now.Add(time.Minute))
			if err != nil || err2 != nil || !first || second {
				t.Fatalf("claims in one window: %v %v (%v %v); want true false", first, second, err, err2)
			}
			// Redis expires the key by its own clock: a window of 300 ms.
			later := time.Now()
			if ok, err := a.ClaimOnce(ctx, "limit messages per day alice", later.Add(300*time.Millisecond), later); !ok || err != nil {
				t.Fatalf("short window: %v %v", ok, err)
			}
			time.Sleep(time.Second)
			if ok, err := b.ClaimOnce(ctx, "limit messages per day alice", time.Now().Add(time.Hour), time.Now()); !ok || err != nil {
				t.Errorf("a claim after its window ended: %v %v; want true", ok, err)
			}
			if name == "redis" {
				return // Redis expires keys by its own clock (above); Purge is SQL's
			}
			if err := a.Purge(ctx, until.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if ok, err := b.ClaimOnce(ctx, "limit messages per hour alice", until.Add(2*time.Hour), until.Add(time.Second)); !ok || err != nil {
				t.Errorf("a claim after purge: %v %v; want true", ok, err)
			}
		})
	}
}

// Issue #29: a limit reached while the store is stopped (SIGSTOP) answers
// the recipient at once: the alert waits in the process, not the SMTP
// reply; once the store is back, the alert is in the outbox. Before,
// RCPT waited for the enqueue (the alerter's timeout per destination).
func TestLimitAlertDoesNotWaitForAStalledStore(t *testing.T) {
	ctx := context.Background()
	pol, _ := limits.NewPolicy(limits.Limits{RecipientsPerHour: 2}, nil)
	for name, c := range stoppableStores(t) {
		t.Run(name, func(t *testing.T) {
			e := &limits.Engine{Store: c.st, Policy: pol, Log: harness.Logger(t, &harness.LogBuffer{}), Now: time.Now, Timeout: time.Second,
				Alert: &limits.Alerter{Sender: alert.Sender{Webhook: "http://127.0.0.1:9/"}, MailTo: "desk@isp.test", Log: harness.Logger(t, &harness.LogBuffer{}),
					Outbox: c.st, Once: c.st, Timeout: 30 * time.Second, Requeue: 100 * time.Millisecond}}
			tx := &policy.Transaction{User: "alice", QueueID: "Q1", Rcpts: []string{"a@remote.test", "b@remote.test"}}
			if v, err := e.CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
				t.Fatalf("MAIL: %v %v", v, err)
			}
			c.pause()
			done := make(chan policy.Verdict, 1)
			go func() {
				v, _ := e.CheckRcpt(ctx, tx, "c@remote.test")
				done <- v
			}()
			select {
			case v := <-done:
				if v.Action != policy.Tempfail {
					t.Errorf("third recipient: %v; want tempfail", v)
				}
			case <-time.After(3 * time.Second):
				t.Errorf("RCPT still waiting for the stopped store after 3 s")
				c.resume()
				<-done
			}
			c.resume()
			if n := waitItems(t, c.st, 1); n[limits.DestWebhook] != 1 || n[limits.DestMail+"desk@isp.test"] != 1 {
				t.Errorf("after the store came back: %v; want the alert once per destination", n)
			}
		})
	}
}

// Issue #29: the bound of alerts waiting in the process for a stopped
// store: beyond Buffer, each is logged as lost with its JSON; the others
// reach the outbox once the store is back.
func TestFireOnceBufferBound(t *testing.T) {
	c := stoppableStores(t)["redis"]
	logs := &harness.LogBuffer{}
	a := &limits.Alerter{Sender: alert.Sender{Webhook: "http://127.0.0.1:9/"}, MailTo: "desk@isp.test", Log: harness.Logger(t, logs),
		Outbox: c.st, Once: c.st, Timeout: 200 * time.Millisecond, Requeue: 50 * time.Millisecond, Buffer: 2}
	c.pause()
	for i := range 6 {
		a.FireOnce(fmt.Sprint("limit messages per hour u", i), time.Now().Add(time.Hour), limits.Alert{Event: "limit", Account: fmt.Sprint("u", i)})
	}
	lost := strings.Count(logs.String(), "alert lost: too many alerts waiting for the store")
	c.resume()
	if lost < 3 || lost > 4 {
		t.Fatalf("%d of 6 logged lost with a buffer of 2 (one more may be in the claim); want 3 or 4\n%s", lost, logs)
	}
	if n := waitItems(t, c.st, 6-lost); n[limits.DestWebhook] != 6-lost {
		t.Errorf("enqueued %v; want %d per destination\n%s", n, 6-lost, logs)
	}
}
