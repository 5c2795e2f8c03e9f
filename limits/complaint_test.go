package limits_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"outguard/limits"
)

// Complaints on each store: one identity is kept once, whichever of two
// hosts adds it; two hosts adding an account's complaints at once see
// the crossing once (one counts 1, the other 2); unattributable ones
// count for nobody and are listed with the rest; an acknowledgement
// (unsuspend) stops earlier complaints counting.
func TestComplaintsStore(t *testing.T) {
	for name, pair := range storePairs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Now()
			for round := range 50 {
				key := fmt.Sprint("acct", round)
				var got [2]int
				var added [2]bool
				var wg sync.WaitGroup
				for h := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						a, n, err := pair[h].AddComplaint(ctx, limits.Complaint{ID: fmt.Sprint("msg:", round, ":", h), Account: key, Time: now}, now)
						if err != nil || !a {
							t.Error(a, err)
						}
						got[h] = n
						// The same report on both hosts: kept once.
						added[h], _, err = pair[h].AddComplaint(ctx, limits.Complaint{ID: fmt.Sprint("dup:", round), Account: key, Time: now}, now)
						if err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				if min(got[0], got[1]) < 1 || max(got[0], got[1]) < 2 || added[0] == added[1] {
					t.Fatalf("round %d: counts %v, duplicates added %v", round, got, added)
				}
			}
			st := pair[0]
			if a, n, err := st.AddComplaint(ctx, limits.Complaint{ID: "raw:1", Time: now, Problem: "no reference found"}, now); !a || n != 0 || err != nil {
				t.Fatalf("unattributable: %v %d %v", a, n, err)
			}
			all, err := st.Complaints(ctx, "", now.Add(-time.Hour))
			if err != nil || len(all) != 50*3+1 {
				t.Fatalf("every complaint: %d %v", len(all), err)
			}
			if one, _ := st.Complaints(ctx, "acct0", now.Add(-time.Hour)); len(one) != 3 {
				t.Fatalf("acct0: %d", len(one))
			}
			if _, err := st.Unsuspend(ctx, "acct0", now.Add(time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			later := now.Add(time.Second)
			if _, n, _ := st.AddComplaint(ctx, limits.Complaint{ID: "after", Account: "acct0", Time: later}, later); n != 1 {
				t.Errorf("after the acknowledgement: %d counting", n)
			}
			// A day later the first ones no longer count.
			dayLater := now.Add(limits.Day + time.Minute)
			if _, n, _ := st.AddComplaint(ctx, limits.Complaint{ID: "next day", Account: "acct1", Time: dayLater}, dayLater); n != 1 {
				t.Errorf("a day later: %d counting", n)
			}
			if accts, _ := st.Accounts(ctx); len(accts) != 50 {
				t.Errorf("accounts %d", len(accts))
			}
		})
	}
}

// The engine: complaints_per_day complaints do not suspend, one more
// does (signal complaints, the complaints as evidence, an audit entry);
// a duplicate or an unattributable one counts for nobody; 0 is off.
func TestComplaintSuspends(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			pol, _ := limits.NewPolicy(limits.Limits{ComplaintsPerDay: 2}, map[string]limits.Limits{"bulk": {}})
			e := &limits.Engine{Store: st, Policy: pol, Log: slog.New(slog.DiscardHandler), Now: time.Now, Accounts: limits.Accounts{Host: "h1"}}
			c := func(id, acct string) (bool, *limits.Suspension) {
				added, s, err := e.Complaint(ctx, limits.Complaint{ID: id, Account: acct, Time: time.Now(), Kind: "arf", QueueID: id})
				if err != nil {
					t.Fatal(err)
				}
				return added, s
			}
			for i, id := range []string{"m1", "m2"} {
				if _, s := c(id, "alice"); s != nil {
					t.Fatalf("complaint %d suspended", i+1)
				}
			}
			if added, s := c("m2", "alice"); added || s != nil {
				t.Fatal("a duplicate counted")
			}
			for i := range 5 {
				c(fmt.Sprint("raw", i), "")
			}
			if _, s, _ := st.Usage(ctx, "alice", time.Now()); s != nil {
				t.Fatal("suspended by unattributable complaints")
			}
			for i := range 5 {
				if _, s := c(fmt.Sprint("b", i), "bulk"); s != nil {
					t.Fatal("complaints_per_day 0 suspended")
				}
			}
			_, s := c("m3", "alice")
			if s == nil || s.Signal != limits.SignalComplaints || len(s.Sightings) != 3 || s.Reason != "3 complaints within a day (limit 2)" {
				t.Fatalf("third complaint: %+v", s)
			}
			if tr, _ := st.AuditTrail(ctx, "alice", time.Time{}); len(tr) != 1 || tr[0].Event != limits.AuditSuspended {
				t.Errorf("audit %+v", tr)
			}
		})
	}
}

// A flood of unattributable reports, from two hosts at once, records
// MaxUnattributable of a day and refuses the rest (ErrUnattributableFull):
// the store does not grow with what anyone mails the abuse address. A
// report recorded before is still a duplicate, an attributed one is still
// recorded, and a day later unattributable ones are recorded again.
// Before: every one was recorded.
func TestUnattributableBounded(t *testing.T) {
	for name, pair := range storePairs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Now()
			const extra = 50
			var mu sync.Mutex
			added, full := 0, 0
			var wg sync.WaitGroup
			for h := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range (limits.MaxUnattributable + extra) / 2 {
						a, _, err := pair[h].AddComplaint(ctx, limits.Complaint{ID: fmt.Sprint("raw:", h, ":", i), Time: now, Problem: "no reference found"}, now)
						mu.Lock()
						switch {
						case err == limits.ErrUnattributableFull:
							full++
						case err != nil || !a:
							t.Error(a, err)
						default:
							added++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if added != limits.MaxUnattributable || full != extra {
				t.Fatalf("recorded %d, refused %d", added, full)
			}
			if n, err := pair[0].Unattributable(ctx, now.Add(-time.Hour)); n != limits.MaxUnattributable || err != nil {
				t.Fatalf("kept %d %v", n, err)
			}
			if a, _, err := pair[1].AddComplaint(ctx, limits.Complaint{ID: "raw:0:0", Time: now}, now); a || err != nil {
				t.Errorf("a duplicate at the bound: %v %v", a, err)
			}
			if a, n, err := pair[1].AddComplaint(ctx, limits.Complaint{ID: "msg:h:Q1", Account: "alice", Time: now}, now); !a || n != 1 || err != nil {
				t.Errorf("attributed at the bound: %v %d %v", a, n, err)
			}
			next := now.Add(limits.Day + time.Minute)
			if a, _, err := pair[0].AddComplaint(ctx, limits.Complaint{ID: "raw:next", Time: next}, next); !a || err != nil {
				t.Errorf("the next day: %v %v", a, err)
			}
		})
	}
}
