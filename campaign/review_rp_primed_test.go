package campaign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"outguard/internal/hamgen"
	"outguard/limits"
	"outguard/policy"
)

// sendEvery is sendAll with the messages step apart, and counts the
// messages the limits or the campaign did not accept.
func (r *rig) sendEvery(t *testing.T, msgs []hamgen.Message, step time.Duration) (first, refused, campaigns, suspended int) {
	t.Helper()
	first = -1
	for i, m := range msgs {
		r.now = r.now.Add(step)
		tx := transaction(t, m.Account, m.Rcpts, m.Raw)
		tx.From = "<" + m.From + ">"
		v, err := r.commit(context.Background(), tx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != policy.Accept {
			refused++
		}
		if first < 0 && (v.Action != policy.Accept || len(tx.Stamps()) > 0) {
			first = i
		}
	}
	cs, err := r.store.Campaigns(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	sus, err := r.store.Suspensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return first, refused, len(cs), len(sus)
}

// Review rp (issue 28, schema 17), through the engine with the shipped
// per-account limits (etc/milterd.example.yaml: 200 messages and 500
// recipients an hour, 1000 and 2000 a day): each of 10 stolen accounts
// of the shared consumer domain first sends the phish to the same 16
// addresses of the attacker's own (recorded: they fill the account's 16
// recipients per key for the window), then the same message to 3
// batches of 30 victims of its own, all 40 messages within 7 minutes.
// Every account's recorded set is the 16 addresses: one set, no spread,
// never a campaign; 900 victims phished, nobody suspended. Without the
// first message (the same accounts, the same victims) the run is found
// at the fifth account. Since schema 18 (recipient tokens keyed by the
// fleet's seed, the stores keeping each account's 16 lowest) the primed
// run is found by the fifth account too.
func TestReviewPrimedSetRunEngine(t *testing.T) {
	var anchors []string
	for i := range 16 {
		anchors = append(anchors, fmt.Sprintf("drop%d@attacker.example", i))
	}
	run := func(primed bool) (first, refused, campaigns, suspended int) {
		r := newRig(t)
		pol, err := limits.NewPolicy(limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.lim.Policy = pol
		var msgs []hamgen.Message
		for i := range 10 {
			m := phishFrom(i, fmt.Sprintf("stolen%d@isp.example", i), "")
			if primed {
				p := m
				p.Rcpts = anchors
				msgs = append(msgs, p)
			}
			for b := range 3 {
				v := m
				v.Rcpts = nil
				for j := range 30 {
					v.Rcpts = append(v.Rcpts, fmt.Sprintf("victim%d-%d-%d@mail.example", i, b, j))
				}
				msgs = append(msgs, v)
			}
		}
		return r.sendEvery(t, msgs, 10*time.Second)
	}
	f0, r0, c0, s0 := run(false)
	t.Logf("not primed: first held/stamped message %d, %d refused, %d campaigns, %d suspended", f0, r0, c0, s0)
	f, rf, c, s := run(true)
	t.Logf("primed: first held/stamped message %d, %d refused, %d campaigns, %d suspended", f, rf, c, s)
	// 4 messages per account: the fifth's are 16 to 19
	if c == 0 || s < 5 || f < 0 || f > 19 {
		t.Fatalf("primed with one copy to 16 shared addresses: first message %d, %d refused, %d campaigns, %d suspended (not primed: message %d, %d, %d, %d)", f, rf, c, s, f0, r0, c0, s0)
	}
}

// An attacker priming with as many addresses as the shipped per-account
// recipient limit (500 an hour) leaves room for: through the engine,
// each of 10 stolen accounts sends the phish to the same 450 addresses
// of its own (one message), then to 50 victims of its own, 10 s apart.
// Each account's recorded 16 are the lowest tokens of the 500 it
// reached (a victim among them for about 83% of accounts): found, and
// at least 5 suspended. Fewer victims per account hide more accounts
// (limits.TestPrimedReachDraws, docs/suspension.md's known limit).
func TestPrimedFiveHundredEngine(t *testing.T) {
	r := newRig(t)
	pol, err := limits.NewPolicy(limits.Limits{MessagesPerHour: 200, MessagesPerDay: 1000, RecipientsPerHour: 500, RecipientsPerDay: 2000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.lim.Policy = pol
	var anchors []string
	for i := range 450 {
		anchors = append(anchors, fmt.Sprintf("drop%d@attacker.example", i))
	}
	var msgs []hamgen.Message
	for i := range 10 {
		m := phishFrom(i, fmt.Sprintf("stolen%d@isp.example", i), "")
		p := m
		p.Rcpts = anchors
		v := m
		v.Rcpts = nil
		for j := range 50 {
			v.Rcpts = append(v.Rcpts, fmt.Sprintf("victim%d-%d@mail.example", i, j))
		}
		msgs = append(msgs, p, v)
	}
	f, rf, c, s := r.sendEvery(t, msgs, 10*time.Second)
	t.Logf("primed with 450: first held/stamped message %d, %d refused, %d campaigns, %d suspended", f, rf, c, s)
	if c == 0 || s < 5 {
		t.Fatalf("primed with 450 shared addresses, 50 victims each: first message %d, %d refused, %d campaigns, %d suspended", f, rf, c, s)
	}
}
