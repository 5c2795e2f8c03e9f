package limits_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"outguard/limits"
	"outguard/policy"
)

// review rspare7: limits crossed while suspended that leave no `crossed`
// record, so that CrossedSince (what `campaigns spare` reads) says "" and
// the spare frees the account. SQLite: the faults are the engine's, not a
// store's. Shipped limits (exampleLimits: undeliverable_per_hour 10,
// networks_per_hour 12).

func rspare7Engine(t *testing.T, acc limits.Accounts) (*limits.Engine, limits.Store, *time.Time) {
	t.Helper()
	st, err := limits.OpenSQLite(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pol, err := limits.NewPolicy(exampleLimits, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Hour).Add(-5 * time.Hour)
	eng := &limits.Engine{Store: st, Policy: pol, Accounts: acc, OnSuspended: policy.Tempfail, SuspendFor: limits.Day,
		Log: slog.New(slog.DiscardHandler)}
	eng.Now = func() time.Time { return now }
	return eng, st, &now
}

func rspare7SuspendCampaign(t *testing.T, st limits.Store, acct string, now time.Time) time.Time {
	t.Helper()
	s := limits.Suspension{Key: acct, Since: now, Until: now.Add(limits.Day), By: "milterd", Signal: limits.SignalCampaign,
		Reason: "sent campaign c7", Sightings: []limits.Sighting{{Signal: limits.SignalCampaign, Value: "c7", First: now, Last: now}}}
	if ok, err := st.Suspend(context.Background(), s, now); err != nil || !ok {
		t.Fatalf("suspend %s: %v %v", acct, ok, err)
	}
	return now
}

// TestReviewRspare7HeaderKeyedRefusalsWhileSuspended: claim (1), an
// account keyed by a header (limits.accounts trusted_key: header, the
// webmail's X-Webmail-User). Its recipients refused at RCPT are kept
// until end-of-message (pending); begin, finding the account suspended,
// returns before counting them: neither counted nor marked `crossed`.
// The same 12 refused recipients in an hour suspend that account when it
// is not suspended (control), so a limit was crossed while it was
// suspended, and CrossedSince says "": the spare frees it.
func TestReviewRspare7HeaderKeyedRefusalsWhileSuspended(t *testing.T) {
	acc := limits.Accounts{Host: "mx1", Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, TrustedKey: "header", TrustedHeader: "X-Webmail-User"}
	run := func(eng *limits.Engine, now *time.Time, acct string) policy.Action {
		ctx := context.Background()
		var last policy.Action
		for m := range 2 {
			*now = now.Add(time.Minute)
			tx := &policy.Transaction{ID: fmt.Sprint(acct, "-tx", m), From: acct, Conn: policy.Conn{Addr: netip.MustParseAddr("192.0.2.10")}}
			if v, err := eng.CheckMail(ctx, tx); err != nil || v.Action != policy.Accept {
				t.Fatalf("MAIL: %v %v", v, err)
			}
			for i := range 6 {
				r := policy.Recipient{Addr: fmt.Sprintf("gone%d-%d@remote.test", m, i), Status: "5.1.1", Text: "no such user"}
				if err := eng.RejectedRcpt(ctx, tx, r); err != nil {
					t.Fatal(err)
				}
				tx.Rcpts = append(tx.Rcpts, r.Addr)
			}
			tx.Rcpts = append(tx.Rcpts, "real@remote.test")
			tx.Headers = []policy.Header{{Name: "X-Webmail-User", Value: acct}}
			v, err := eng.CheckMessage(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			last = v.Action
		}
		return last
	}

	// Control: not suspended, the same mail suspends it.
	eng, st, now := rspare7Engine(t, acc)
	if a := run(eng, now, "ctl@webmail.example"); a != policy.Tempfail {
		t.Fatalf("control: the second message's verdict %s, want tempfail (12 refused recipients suspend)", a)
	}
	if _, s, err := st.Usage(context.Background(), "ctl@webmail.example", *now); err != nil || !s.Active(*now) {
		t.Fatalf("control: not suspended by 12 refused recipients within an hour: %+v %v", s, err)
	}

	// Suspended (for a campaign): the same mail leaves nothing.
	eng, st, now = rspare7Engine(t, acc)
	since := rspare7SuspendCampaign(t, st, "stolen@webmail.example", *now)
	if a := run(eng, now, "stolen@webmail.example"); a != policy.Tempfail {
		t.Fatalf("suspended: verdict %s, want tempfail", a)
	}
	evs, _ := st.Undeliverables(context.Background(), "stolen@webmail.example", since.Add(-time.Hour))
	over, err := eng.CrossedSince(context.Background(), "stolen@webmail.example", since)
	if err != nil {
		t.Fatal(err)
	}
	if over == "" {
		t.Errorf("a header-keyed account suspended for a campaign had 12 recipients refused at RCPT within an hour (the same suspend it when it is not suspended): %d counted, CrossedSince %q, no `crossed` record: the spare frees it", len(evs), over)
	}
}

// TestReviewRspare7DedupeAcrossResuspension: claim (1), markCrossed's
// once-an-hour claim for undeliverable/refused/spam/complaints is keyed
// with a zero "since" (only begin passes the suspension's start), so it
// does not tell one suspension from the next. A stolen account suspended
// (S1) crosses undeliverable_per_hour from its bounces at :05 (recorded);
// the desk unsuspends it at :10 (acknowledges); the next copy of its run
// suspends it again at :20 (S2); 10 more bounces at :30 cross the limit
// again while S2 is in force: the engine's claim for the hour is still
// held, nothing is written, and CrossedSince(S2's start) says "".
func TestReviewRspare7DedupeAcrossResuspension(t *testing.T) {
	eng, st, now := rspare7Engine(t, limits.Accounts{Host: "mx1"})
	ctx := context.Background()
	acct := "stolen@example.net"
	t0 := *now
	at := func(d time.Duration) time.Time { *now = t0.Add(d); return *now }
	bounce := func(d time.Duration, tag string) {
		var evs []limits.Undeliverable
		for i := range 10 {
			evs = append(evs, limits.Undeliverable{ID: fmt.Sprint(tag, i), Kind: limits.KindRecipient, Time: at(d), Rcpt: fmt.Sprintf("%s%d@gone.example", tag, i), Status: "5.1.1", Source: "log"})
		}
		if _, err := eng.Undeliverable(ctx, acct, evs); err != nil {
			t.Fatal(err)
		}
	}
	s1 := rspare7SuspendCampaign(t, st, acct, at(0))
	bounce(5*time.Minute, "a")
	if over, _ := eng.CrossedSince(ctx, acct, s1); over == "" {
		t.Fatal("S1's crossing not recorded at all")
	}
	if _, err := st.Unsuspend(ctx, acct, at(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	s2 := rspare7SuspendCampaign(t, st, acct, at(20*time.Minute))
	bounce(30*time.Minute, "b")
	n, _ := st.Undeliverables(ctx, acct, s2)
	over, err := eng.CrossedSince(ctx, acct, s2)
	if err != nil {
		t.Fatal(err)
	}
	if over == "" {
		t.Errorf("after an unsuspend and a new suspension within the clock hour, %d undeliverable recipients while the new suspension is in force (limit 10) left no `crossed` record (CrossedSince %q): the spare frees the stolen account", len(n), over)
	}
}

// failAudit fails its first n audit writes (a store timeout).
type failAudit struct {
	limits.Store
	n int
}

func (f *failAudit) Audit(ctx context.Context, ev limits.AuditEvent) error {
	if f.n > 0 {
		f.n--
		return errors.New("audit write: i/o timeout")
	}
	return f.Store.Audit(ctx, ev)
}

// TestReviewRspare7AuditFailureLosesCrossing: claim (1), an audit write
// failure. The follower reads a stolen account's run's bounces in one
// batch (12 in the hour, threshold 10): the crossing is marked once; its
// write fails (one timeout); markCrossed forgets the claim "to try again
// at the next crossing", but the run is over: no next crossing comes,
// and the evidence (12 undeliverable recipients in the hour, in the
// store) is never judged again: CrossedSince says "". Mended: the
// failure fails the follower's batch, which it reads again.
func TestReviewRspare7AuditFailureLosesCrossing(t *testing.T) {
	eng, st, now := rspare7Engine(t, limits.Accounts{Host: "mx1"})
	fa := &failAudit{Store: st, n: 1}
	eng.Store = fa
	ctx := context.Background()
	acct := "stolen@example.net"
	since := rspare7SuspendCampaign(t, st, acct, *now)
	*now = now.Add(5 * time.Minute)
	var evs []limits.Undeliverable
	for i := range 12 {
		evs = append(evs, limits.Undeliverable{ID: fmt.Sprint("x", i), Kind: limits.KindRecipient, Time: *now, Rcpt: fmt.Sprintf("x%d@gone.example", i), Status: "5.1.1", Source: "log"})
	}
	// (Mended: the failure is returned; the follower reads the batch
	// again, "not counted, will read again", as here.)
	if _, err := eng.Undeliverable(ctx, acct, evs); err == nil {
		t.Fatal("the failed audit write was not returned: the follower moves on")
	}
	if _, err := eng.Undeliverable(ctx, acct, evs); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Hour)
	got, _ := st.Undeliverables(ctx, acct, since)
	over, err := eng.CrossedSince(ctx, acct, since)
	if err != nil {
		t.Fatal(err)
	}
	if over == "" {
		t.Errorf("%d undeliverable recipients within an hour while suspended (threshold 10), one audit write failed: CrossedSince %q, the crossing is lost for good (the spare frees it)", len(got), over)
	}
}

// rs7Geo places 10.0.N.x in country N (a botnet's proxies in many
// countries).
type rs7Geo struct{}

func (rs7Geo) Locate(a netip.Addr) (string, uint32) {
	b := a.As4()
	return fmt.Sprintf("C%d", b[2]), 0
}

// TestReviewRspare7CrossedFloodPastAlertedBound: claim (3), "once a
// clock hour per account and signal on a host". The once is the
// engine's alertedSet, bounded at 4096 entries and shared with the limit
// alerts; when full it forgets arbitrary entries, which for the limit
// alerts costs a store claim answered "already sent", but for markCrossed
// costs a new audit row (nothing in the store dedupes it). A credential-
// stuffing botnet holding 4 500 suspended accounts, each logging in from
// 5 countries (countries_per_hour 4) and then twice more within the same
// clock hour, round robin: every account crosses once in the hour, so
// the claim allows 4 500 rows.
func TestReviewRspare7CrossedFloodPastAlertedBound(t *testing.T) {
	eng, st, now := rspare7Engine(t, limits.Accounts{Host: "mx1"})
	eng.Geo = rs7Geo{}
	ctx := context.Background()
	const n = 4500
	t0 := *now
	for a := range n {
		rspare7SuspendCampaign(t, st, fmt.Sprint("acct", a), t0)
	}
	logins := 0
	login := func(a, c int) {
		tx := &policy.Transaction{User: fmt.Sprint("acct", a), Conn: policy.Conn{Addr: netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", c, 1+a%250))}}
		if _, err := eng.CheckMail(ctx, tx); err != nil {
			t.Fatal(err)
		}
		logins++
	}
	*now = t0.Add(time.Minute)
	for c := range 5 {
		for a := range n {
			login(a, c)
		}
	}
	for round := range 2 {
		*now = t0.Add(time.Duration(10+round) * time.Minute)
		for a := range n {
			login(a, round)
		}
	}
	rows := 0
	accts := map[string]int{}
	all, err := st.AuditTrail(ctx, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range all {
		if ev.Event == limits.AuditCrossed {
			rows++
			accts[ev.Account]++
		}
	}
	most := 0
	for _, k := range accts {
		most = max(most, k)
	}
	t.Logf("%d logins of %d suspended accounts within one clock hour: %d `crossed` rows, for %d accounts (most for one account: %d)", logins, n, rows, len(accts), most)
	if rows > n {
		t.Errorf("%d `crossed` audit rows (each an audit write round trip) for %d accounts crossing one signal in one clock hour on one host, want at most %d (once an hour per account and signal); one account got %d", rows, n, n, most)
	}
}

// TestReviewRspare7ComplaintCrossedPerReport: claim (3), "once a clock
// hour per account and signal on a host". Complaints are recorded by
// `milterctl complaints ingest`, one process per report (the Postfix pipe
// transport on the abuse mailbox): each builds its own engine
// (openLimitsEngine), whose alertedSet is empty. complaints_per_day 5
// (the shipped 0 is off; any limit will do); the account is suspended
// (for a campaign); 30 reports within ten minutes of the stolen account's
// run, 10 of them a second recipient's report on a message already
// reported (counted once): every report over the limit writes a
// `crossed` row, whether it counted or not.
func TestReviewRspare7ComplaintCrossedPerReport(t *testing.T) {
	_, st, now := rspare7Engine(t, limits.Accounts{Host: "mx1"})
	l := exampleLimits
	l.ComplaintsPerDay = 5
	pol, err := limits.NewPolicy(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acct := "stolen@example.net"
	t0 := *now
	rspare7SuspendCampaign(t, st, acct, t0)
	for i := range 30 {
		at := t0.Add(time.Duration(i) * 20 * time.Second)
		// one process per report: a fresh engine
		eng := &limits.Engine{Store: st, Policy: pol, Accounts: limits.Accounts{Host: "mx1"}, SuspendFor: limits.Day, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return at }}
		msg := i
		if i >= 20 {
			msg = i - 10 // a second report of an earlier message
		}
		qid := fmt.Sprintf("Q%04d", msg)
		c := limits.Complaint{ID: "msg:mx1:" + qid, Account: acct, Time: at, Kind: "arf", Feedback: "abuse", Host: "mx1", QueueID: qid, Sent: t0.Add(-time.Hour), FBL: "fbl.example"}
		if _, _, err := eng.Complaint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	trail, err := st.AuditTrail(ctx, acct, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, ev := range trail {
		if ev.Event == limits.AuditCrossed {
			rows++
		}
	}
	t.Logf("30 reports (20 messages) within 10 minutes, complaints_per_day 5, account suspended: %d `crossed` rows", rows)
	if rows > 1 {
		t.Errorf("%d `crossed` rows (one audit write each) for complaints within one clock hour on one host, want 1 (once a clock hour per account and signal on a host)", rows)
	}
}
